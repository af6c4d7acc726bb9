// The `lxc` command-line client, pointed at one daemon: LXD_DIR selects whose
// unix socket `local:` is (LXD's own directory, or Berth's data directory),
// and a throwaway LXD_CONF keeps an admin's remotes and defaults out of it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { haveCommand, runHost, type HostCommandResult } from './host-command.ts';
import { NotAvailable } from './subject.ts';

export class LxcCli {
  #conf: string | null = null;

  constructor(
    /** The daemon's directory: `<dir>/unix.socket` is what `lxc` talks to. */
    readonly lxdDir: string,
    /** Added as `--project` to every command. */
    readonly project: string,
  ) {}

  /** Checks `lxc` is installed and makes its throwaway configuration directory. */
  async prepare(): Promise<void> {
    if (!(await haveCommand('lxc')))
      throw new NotAvailable('the lxc client is not installed (apt-get install -y lxd-client)');
    this.#conf = await mkdtemp(path.join(os.tmpdir(), 'bench-lxc-conf-'));
  }

  /** `lxc <command> --project P <args…>`; resolves at its exit (stdout too when asked), throws on a non-zero exit. */
  run(
    command: readonly string[],
    args: readonly string[],
    options: { needStdout?: boolean } = {},
  ): Promise<HostCommandResult> {
    if (!this.#conf) throw new Error('lxc: not prepared');
    return runHost('lxc', [...command, '--project', this.project, ...args], {
      env: { ...process.env, LXD_DIR: this.lxdDir, LXD_CONF: this.#conf },
      timeoutMs: 120_000,
      ...options,
    });
  }

  async cleanup(): Promise<void> {
    if (this.#conf) await rm(this.#conf, { recursive: true, force: true });
    this.#conf = null;
  }
}
