// A one-time task 10 s from now: a welcome email sent a little after sign-up, so that the
// sign-up request does not wait for the mail server.
import type { ScheduleHandle, SchedulerClient } from "@chime/sdk";

export async function sendWelcomeEmailLater(
  client: SchedulerClient,
  to: string,
): Promise<ScheduleHandle> {
  return client.scheduleAt({
    delay: "10s",
    subject: "tasks.email.welcome",
    payload: { to, template: "welcome" },
    // One per address: a retried sign-up request does not queue a second email.
    name: `welcome-email:${to}`,
  });
}
