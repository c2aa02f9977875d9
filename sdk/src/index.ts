// @chime/sdk: the client, the task consumer and declarative schedules, then the generated
// chime.v1 API they are built on.

export { createSchedulerClient } from "./client.js";
export { consumeTasks, DeadLetterHeader, retryDelayMs } from "./consumer.js";
export { defineSchedules } from "./define-schedules.js";
export { formatDuration, parseDuration, parseInstant } from "./duration.js";
export { ConsumerConfigError, InvalidArgumentError } from "./errors.js";
// The generated chime.v1 API (sdk/src/gen, from proto/chime/v1): messages, enums and the
// service descriptor, for createClient() and for Chime itself.
export type {
  CronTrigger,
  FireRecord,
  IntervalTrigger,
  Schedule,
  TimeTrigger,
} from "./gen/chime/v1/schedule_pb.js";
export {
  ConflictPolicy,
  ConflictPolicySchema,
  CronTriggerSchema,
  FireRecordSchema,
  file_chime_v1_schedule,
  IntervalTriggerSchema,
  MisfirePolicy,
  MisfirePolicySchema,
  ScheduleSchema,
  ScheduleState,
  ScheduleStateSchema,
  TimeTriggerSchema,
} from "./gen/chime/v1/schedule_pb.js";
export type {
  BatchScheduleError,
  BatchScheduleItem,
  BatchScheduleRequest,
  BatchScheduleResponse,
  BatchScheduleResult,
  CreatedSchedule,
  GetScheduleRequest,
  ListSchedulesRequest,
  ListSchedulesResponse,
  PauseScheduleRequest,
  ResumeScheduleRequest,
  ScheduleByCronRequest,
  ScheduleByIntervalRequest,
  ScheduleByTimeRequest,
  TriggerScheduleRequest,
  TriggerScheduleResponse,
  UnscheduleRequest,
  UnscheduleResponse,
} from "./gen/chime/v1/scheduler_service_pb.js";
export {
  BatchScheduleErrorSchema,
  BatchScheduleItemSchema,
  BatchScheduleRequestSchema,
  BatchScheduleResponseSchema,
  BatchScheduleResultSchema,
  CreatedScheduleSchema,
  file_chime_v1_scheduler_service,
  GetScheduleRequestSchema,
  ListSchedulesRequestSchema,
  ListSchedulesResponseSchema,
  PauseScheduleRequestSchema,
  ResumeScheduleRequestSchema,
  ScheduleByCronRequestSchema,
  ScheduleByIntervalRequestSchema,
  ScheduleByTimeRequestSchema,
  SchedulerService,
  TriggerScheduleRequestSchema,
  TriggerScheduleResponseSchema,
  UnscheduleRequestSchema,
  UnscheduleResponseSchema,
} from "./gen/chime/v1/scheduler_service_pb.js";
// google.rpc.BadRequest: the field violations an INVALID_ARGUMENT error carries as details,
// read with `err.findDetails(BadRequestSchema)`.
export type { BadRequest, BadRequest_FieldViolation } from "./gen/google/rpc/error_details_pb.js";
export {
  BadRequest_FieldViolationSchema,
  BadRequestSchema,
} from "./gen/google/rpc/error_details_pb.js";
export type { Status } from "./gen/google/rpc/status_pb.js";
export { StatusSchema } from "./gen/google/rpc/status_pb.js";
export { isScheduleId } from "./requests.js";
export { subjectMatches } from "./subject-rules.js";
export { TaskHeader } from "./task.js";
export type {
  AtDefinition,
  BatchCreate,
  BatchCreateResult,
  CallOptions,
  ConsumeTasksOptions,
  CronDefinition,
  DefineSchedulesOptions,
  DefineSchedulesResult,
  DurationInput,
  EveryDefinition,
  GetScheduleOptions,
  InstantInput,
  ListSchedulesFilter,
  OneShotWhen,
  Payload,
  RecurringOptions,
  RetryPolicy,
  ScheduleAtOptions,
  ScheduleCommonOptions,
  ScheduleCronOptions,
  ScheduleDefinition,
  ScheduleEveryOptions,
  ScheduleHandle,
  SchedulerClient,
  SchedulerClientOptions,
  ScheduleTarget,
  Task,
  TaskConsumer,
  TaskHandler,
  TriggerResult,
} from "./types.js";
export {
  DeliverFrom,
  OnConflict,
  OnMisfire,
  Protocol,
  ScheduleStatus,
  TaskTrigger,
} from "./types.js";
