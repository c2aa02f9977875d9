import { ConnectError } from "@connectrpc/connect";

/** The ConnectError a call failed with; fails the test when the call succeeded. */
export async function connectErrorOf(call: Promise<unknown>): Promise<ConnectError> {
  let response: unknown;
  try {
    response = await call;
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error(`expected the call to fail, it answered ${safeJson(response)}`);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return String(value);
  }
}

/** Resolves after `ms`: only to prove that something does not happen in that time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
