import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { formErrorsOf, formFieldOf } from './form-errors.ts';

function refusal(message: string, data: Record<string, unknown>) {
  return TRPCClientError.from({ error: { code: -32600, message, data } });
}

describe('formErrorsOf', () => {
  it('puts an engine error under its config key, without the field name in front', () => {
    const error = refusal('config["ipv4.address"]: "10.0.0.0/24" is the network address', {
      field: 'config["ipv4.address"]',
      fieldErrors: null,
    });
    expect(formErrorsOf(error).fields).toEqual({
      'ipv4.address': '"10.0.0.0/24" is the network address',
    });
  });

  it("keys zod's issues by the form's field names", () => {
    const error = refusal('bad input', {
      field: 'name',
      fieldErrors: { name: 'must not be empty', 'config.source': 'must be a string' },
    });
    expect(formErrorsOf(error).fields).toEqual({
      name: 'must not be empty',
      source: 'must be a string',
    });
  });

  it('leaves an error about no field to a banner', () => {
    const out = formErrorsOf(new Error('the network is in use'));
    expect(out).toEqual({ message: 'the network is in use', fields: {} });
    expect(formFieldOf('description')).toBe('description');
  });
});
