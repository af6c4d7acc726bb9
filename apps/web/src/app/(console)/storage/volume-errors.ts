// A volume form's server error by the form's own field names (see
// volumeFormField), the message without the field name it may start with.
import { describeError } from '~/lib/trpc.ts';
import { volumeFormField } from './volume-devices.ts';

export interface VolumeFormErrors {
  message: string;
  fields: Record<string, string>;
}

export function volumeErrorsOf(error: unknown): VolumeFormErrors {
  const d = describeError(error);
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.fieldErrors)) fields[volumeFormField(k)] ??= v;
  if (d.field) fields[volumeFormField(d.field)] ??= d.message.replace(`${d.field}: `, '');
  return { message: d.message, fields };
}
