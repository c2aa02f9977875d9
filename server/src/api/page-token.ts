import { isScheduleId } from "../store/schedule-id.js";
import { InvalidFieldError } from "./api-errors.js";

// Opaque to clients: a version tag and the last schedule id of the previous page.
const PREFIX = "v1:";

export function encodePageToken(lastId: string): string {
  return Buffer.from(PREFIX + lastId, "utf8").toString("base64url");
}

/** The id a page starts after; InvalidFieldError for anything this server did not issue. */
export function decodePageToken(token: string): string {
  const text = /^[A-Za-z0-9_-]{1,128}$/.test(token)
    ? Buffer.from(token, "base64url").toString("utf8")
    : "";
  const id = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : "";
  if (!isScheduleId(id)) {
    throw new InvalidFieldError(
      "page_token",
      "is malformed; pass next_page_token from a previous response",
    );
  }
  return id;
}
