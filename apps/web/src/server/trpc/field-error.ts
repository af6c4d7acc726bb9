// An error about one input field, for router code that cannot import the
// engine's runtime (Next bundles only its types): shaped as an EngineError so
// error-format.ts maps it like one and the browser learns the field.
import type { EngineErrorCode } from '@berth/engine';

export function fieldError(code: EngineErrorCode, field: string, reason: string): Error {
  return Object.assign(new Error(`${field}: ${reason}`), { name: 'EngineError', code, field });
}
