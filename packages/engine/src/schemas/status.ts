// LXD's status codes (shared/api/status_code.go), used by instances and
// operations alike.
import { z } from 'zod';

export const StatusCode = {
  OperationCreated: 100,
  Started: 101,
  Stopped: 102,
  Running: 103,
  Cancelling: 104,
  Pending: 105,
  Starting: 106,
  Stopping: 107,
  Aborting: 108,
  Freezing: 109,
  Frozen: 110,
  Thawed: 111,
  Error: 112,
  Ready: 113,
  Success: 200,
  Failure: 400,
  Cancelled: 401,
} as const;
export type StatusName = keyof typeof StatusCode;

/** The text LXD shows for a status code (`Operation created` has a space). */
export function statusText(code: number): string {
  if (code === StatusCode.OperationCreated) return 'Operation created';
  const entry = Object.entries(StatusCode).find(([, c]) => c === code);
  return entry ? entry[0] : 'Unknown';
}

export const InstanceStatus = z.enum([
  'Running',
  'Stopped',
  'Frozen',
  'Error',
  'Starting',
  'Stopping',
  'Freezing',
  'Ready',
]);
export type InstanceStatus = z.infer<typeof InstanceStatus>;

export const OperationStatus = z.enum([
  'Pending',
  'Running',
  'Cancelling',
  'Success',
  'Failure',
  'Cancelled',
]);
export type OperationStatus = z.infer<typeof OperationStatus>;

export const terminalOperationStatuses: readonly OperationStatus[] = [
  'Success',
  'Failure',
  'Cancelled',
];
