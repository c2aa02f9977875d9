import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Logger } from "pino";

/** Internal subjects: inside the reserved chime.internal.> space no schedule may publish to. */
export const INTERNAL_SUBJECT_SPACE = "chime.internal.>";
const subjectFor = (replicaId: string, verb: string): string =>
  `chime.internal.replica.${replicaId}.${verb}`;

/** What one replica asks of the replica that owns a schedule's partition. */
export interface OwnerDuties {
  /** Resolves once this replica has applied every store change up to `revision`. */
  applied(revision: number): Promise<void>;
  /** Fires the schedule now, outside its timetable. */
  trigger(scheduleId: string): Promise<TriggerResult>;
}

export interface TriggerResult {
  readonly firedAt: number;
  readonly messageId: string;
  readonly streamSequence: number;
}

type Reply<T> = { readonly ok: T } | { readonly error: string; readonly kind: string };

/** Raised on the asking side with the owner's error kind, so the API can map it. */
export class OwnerError extends Error {
  override readonly name = "OwnerError";
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Request/reply between replicas over NATS: any replica answers any RPC, and where only the
 * owner of a partition can act (fire now, or promise that a deleted schedule fires no more),
 * it asks that owner.
 */
export class ReplicaLink {
  private subscription: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly replicaId: string,
    private readonly duties: OwnerDuties,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.subscription = this.nc.subscribe(`chime.internal.replica.${this.replicaId}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        const verb = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
        void this.answer(verb, msg.string()).then((reply) => msg.respond(JSON.stringify(reply)));
      },
    });
  }

  close(): void {
    this.subscription?.unsubscribe();
  }

  /** Waits until `owner` has applied `revision`; returns false if it did not answer in time. */
  async applied(owner: string, revision: number, timeoutMs: number): Promise<boolean> {
    try {
      await this.ask<null>(owner, "applied", String(revision), timeoutMs);
      return true;
    } catch (err) {
      this.log.debug({ err, owner }, "owner did not confirm a change in time");
      return false;
    }
  }

  trigger(owner: string, scheduleId: string, timeoutMs: number): Promise<TriggerResult> {
    return this.ask<TriggerResult>(owner, "trigger", scheduleId, timeoutMs);
  }

  private async ask<T>(owner: string, verb: string, body: string, timeoutMs: number): Promise<T> {
    const msg = await this.nc.request(subjectFor(owner, verb), body, { timeout: timeoutMs });
    const reply = msg.json<Reply<T>>();
    if ("error" in reply) throw new OwnerError(reply.kind, reply.error);
    return reply.ok;
  }

  private async answer(verb: string, body: string): Promise<Reply<unknown>> {
    try {
      switch (verb) {
        case "applied":
          await this.duties.applied(Number(body));
          return { ok: null };
        case "trigger":
          return { ok: await this.duties.trigger(body) };
        default:
          return { error: `unknown request ${verb}`, kind: "unknown" };
      }
    } catch (err) {
      return {
        error: err instanceof Error ? err.message : String(err),
        kind: err instanceof Error ? err.name : "Error",
      };
    }
  }
}
