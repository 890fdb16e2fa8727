import { v7 as uuidv7 } from 'uuid';

/** A new UUIDv7 (RFC 9562): time-ordered, so ids sort by creation time. */
export function newMessageId(): string {
  return uuidv7();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a textual UUID of any version. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
