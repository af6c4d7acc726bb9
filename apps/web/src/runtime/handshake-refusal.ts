// What a refused socket.io handshake tells the client (`connect_error`'s
// message), for every namespace: `UNAUTHORIZED`, or the refusal's code and
// reason (`FORBIDDEN: Change your password first`). Anything but a refusal
// of authorize(), such as a failed credential lookup, is UNAUTHORIZED too.
import { codedErrorOf } from '../server/error-codes.ts';

export function handshakeRefusal(error: unknown): string {
  const coded = codedErrorOf(error);
  if (!coded || coded.code === 'UNAUTHORIZED') return 'UNAUTHORIZED';
  return `${coded.code}: ${coded.message}`;
}
