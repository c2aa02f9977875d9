import {
  type ApiError,
  JetStreamApiCodes,
  JetStreamApiError,
  JetStreamError,
  type PubAck,
} from "@nats-io/jetstream";
import { type Msg, NoRespondersError } from "@nats-io/nats-core";

/** A PubAck as JetStream sends it, or the API error it names instead. */
interface AckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  domain?: string;
  error?: ApiError;
}

/** Whether a publish failed because no stream took its subject ("jetstream is not enabled"). */
export function noStreamTook(err: unknown): boolean {
  return err instanceof Error && err.cause instanceof NoRespondersError;
}

/**
 * JetStream's answer to a publish, read as its own client reads it: the ack, or the error its
 * client would throw (a JetStreamApiError when the stream refuses, a lost compare-and-set
 * among them; "jetstream is not enabled" when no stream takes the subject).
 */
export function pubAckOf(msg: Msg): PubAck {
  if (msg.data.length === 0) {
    const code = msg.headers?.code ?? 0;
    if (code === 503) {
      throw new JetStreamError("jetstream is not enabled", {
        cause: new NoRespondersError(msg.subject),
      });
    }
    throw new JetStreamError(`no ack, status ${code}`);
  }
  const body = msg.json<AckBody>();
  if (body.error !== undefined) {
    const apiError = new JetStreamApiError(body.error);
    if (body.error.err_code === JetStreamApiCodes.JetStreamNotEnabledForAccount) {
      throw new JetStreamError(apiError.message, { cause: apiError });
    }
    throw apiError;
  }
  if (!body.stream || body.seq === undefined) throw new JetStreamError("invalid ack response");
  const ack: PubAck = { stream: body.stream, seq: body.seq, duplicate: body.duplicate === true };
  if (body.domain !== undefined) ack.domain = body.domain;
  return ack;
}
