// A failed create's errors by the form's own field names: zod's issues and
// the engine's field (`config["ipv4.address"]` → `ipv4.address`), each
// message without the field name it starts with (it is shown under the field).
import { configKeyOfField } from './config-rows.ts';
import { describeError } from './trpc.ts';

export interface FormErrors {
  message: string;
  /** Form field → message; empty when the error is about no one field. */
  fields: Record<string, string>;
}

export function formFieldOf(field: string): string {
  return configKeyOfField(field) ?? field.replace(/^config\./, '');
}

export function formErrorsOf(error: unknown): FormErrors {
  const d = describeError(error);
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.fieldErrors)) fields[formFieldOf(k)] = v;
  if (d.field) {
    const prefix = `${d.field}: `;
    fields[formFieldOf(d.field)] ??= d.message.startsWith(prefix)
      ? d.message.slice(prefix.length)
      : d.message;
  }
  return { message: d.message, fields };
}
