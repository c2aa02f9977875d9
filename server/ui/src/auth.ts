import { Code } from "@connectrpc/connect";
import { asConnectError, errorMessage, type SchedulerClient, type TokenSource } from "./api.js";
import { byId } from "./dom.js";

const TOKEN_KEY = "chime.token";

/** The bearer token, kept for this browser tab only (sessionStorage). */
export class TokenStore implements TokenSource {
  token(): string | undefined {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  }

  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** What the current credentials may do. */
export type Access = "write" | "read-only" | "signed-out";

/**
 * Finds whether the credentials may write, without changing anything: a pause of no schedule
 * is refused before it could act, with PERMISSION_DENIED for a read-only token (roles are
 * checked before the request), UNAUTHENTICATED for no or a wrong token, and INVALID_ARGUMENT
 * (no schedule named) when writes are allowed.
 */
export async function probeAccess(client: SchedulerClient): Promise<Access> {
  try {
    await client.pauseSchedule({});
    return "write";
  } catch (err) {
    const code = asConnectError(err).code;
    if (code === Code.Unauthenticated) return "signed-out";
    if (code === Code.PermissionDenied) return "read-only";
    return "write";
  }
}

/**
 * Asks for a token in the page's token dialog; resolves with it, or undefined when the
 * viewer cancels. `reason` is the server's message that made it necessary.
 */
export function askForToken(reason: string | undefined): Promise<string | undefined> {
  const dialog = byId("token-dialog", HTMLDialogElement);
  const form = byId("token-form", HTMLFormElement);
  const input = byId("token-input", HTMLInputElement);
  const why = byId("token-reason", HTMLParagraphElement);
  why.textContent =
    reason === undefined
      ? "Paste a bearer token. It is kept in this tab only."
      : `The server says: ${reason}. Paste a bearer token; it is kept in this tab only.`;
  input.value = "";
  return new Promise((resolve) => {
    const onClose = (): void => {
      dialog.removeEventListener("close", onClose);
      const token = input.value.trim();
      resolve(dialog.returnValue === "save" && token !== "" ? token : undefined);
    };
    dialog.addEventListener("close", onClose);
    form.onsubmit = (event) => {
      event.preventDefault();
      dialog.close("save");
    };
    byId("token-cancel", HTMLButtonElement).onclick = () => dialog.close("cancel");
    dialog.showModal();
    input.focus();
  });
}

/** The server's message for a refused write, for the status line. */
export function deniedMessage(err: unknown): string {
  return `Not allowed: ${errorMessage(err)}`;
}
