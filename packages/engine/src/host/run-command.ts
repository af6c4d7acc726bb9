// The one way the engine runs a host command (lxc-*, ip, dnsmasq, nft, tar,
// qemu-img, ...). Argument arrays only: nothing is ever parsed by a shell, so
// an instance name or a path cannot become shell syntax.
//
// Semantics are execFile's, with what a daemon that manages other daemons
// needs on top:
// * every call has a timeout; on timeout (or abort) the command's whole
//   process group is killed with SIGKILL, so `sh -c '...'` and its children
//   go too, and nothing keeps our pipes open;
// * stdin is /dev/null unless `input` is given (an `lxc-attach` must never
//   read the engine's own stdin);
// * the result is taken when the process has exited and its pipes are
//   closed, but a child that daemonises and keeps the pipes (a background
//   `&` in a script) does not hang the call: after the exit we wait at most
//   `closeGraceMs` for the pipes, then stop reading;
// * failures throw EngineError: DRIVER_UNAVAILABLE when the binary is not
//   installed (ENOENT), INTERNAL otherwise, with the command line and the
//   trimmed stderr in the message.
//
// The spawning itself (spawn-command.ts) happens in a small sidecar process
// (command-sidecar.ts): fork() of the engine, hundreds of MB with Prisma's
// WebAssembly loaded, cost ~12 ms more per command than fork() of the sidecar.
import { runInSidecar } from './command-sidecar.ts';
import type { CommandResult, RunCommandOptions } from './command-error.ts';

export {
  CommandError,
  formatCommand,
  type CommandFailure,
  type CommandResult,
  type RunCommandOptions,
} from './command-error.ts';

export function runCommand(
  cmd: string,
  args: readonly string[],
  options: RunCommandOptions,
): Promise<CommandResult> {
  return runInSidecar(cmd, args, options);
}
