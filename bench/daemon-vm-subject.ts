// VM subjects 2 and 3: a daemon that speaks LXD's REST API (the real LXD,
// or Berth's server), timed through the same two paths as its containers
// (daemon-subject.ts): the bench's HTTP client on the unix socket, and the
// `lxc` CLI. Same throwaway project (daemon-project.ts), into which the
// bench imports the busybox VM image (bench-vm-image.ts).
//
// LXD is tried first with one `lxc launch --vm` (`trial`): LXD's VMs need
// a UEFI-bootable image with its own lxd-agent, and its VM driver needs
// vhost_vsock, so whatever stops that one launch is the reason its column
// is empty.
import { untilExecSucceeds } from './agent-ready.ts';
import { VM_IMAGE_ALIAS, type BenchVmImage } from './bench-vm-image.ts';
import { DaemonProject, type Daemon } from './daemon-project.ts';
import { HostCommandError } from './host-command.ts';
import { berthVmAccelerator } from './qemu-processes.ts';
import { NotAvailable, type PathId, type SubjectId } from './subject.ts';
import type { VmPath, VmSubject } from './vm-subject.ts';

/** The graceful stop's timeout (LXD's default for `lxc stop --timeout`); past it the daemon forces. */
const STOP_TIMEOUT_S = 30;
/** How long the trial VM may take to answer an exec before LXD's VMs count as not working here. */
const TRIAL_AGENT_MS = 60_000;

export interface DaemonVmSubjectOptions {
  id: Extract<SubjectId, 'lxd' | 'berth'>;
  label: string;
  daemon: Daemon;
  project: string;
  image: BenchVmImage;
  /** Given, one VM of this name is launched in prepare(), and what stops it makes the subject not available. */
  trialName?: string;
}

/** The `Error: …` line the `lxc` client ends a failure with, or the whole message. */
function lxcReason(error: unknown): string {
  if (error instanceof HostCommandError && error.result) {
    const text = `${error.result.stderr}\n${error.result.stdout}`;
    const line = text
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('Error: '));
    if (line) return line.slice('Error: '.length).trim();
  }
  return error instanceof Error ? error.message : String(error);
}

export class DaemonVmSubject implements VmSubject {
  readonly id: DaemonVmSubjectOptions['id'];
  readonly label: string;
  readonly paths: Record<PathId, VmPath>;
  readonly #options: DaemonVmSubjectOptions;
  readonly #daemon: DaemonProject;

  constructor(options: DaemonVmSubjectOptions) {
    this.#options = options;
    this.id = options.id;
    this.label = options.label;
    this.#daemon = new DaemonProject(options.label, options.daemon, options.project);
    this.paths = { api: this.#apiPath(), cli: this.#cliPath() };
  }

  async prepare(): Promise<void> {
    await this.#daemon.open();
    await this.#daemon.importImage(await this.#options.image.tarball(), VM_IMAGE_ALIAS);
    if (this.#options.trialName) await this.#trial(this.#options.trialName);
  }

  async #trial(name: string): Promise<void> {
    this.#daemon.created.add(name);
    try {
      await this.#lxc('launch', VM_IMAGE_ALIAS, name, '--vm');
    } catch (error) {
      throw new NotAvailable(
        `\`lxc launch ${VM_IMAGE_ALIAS} <name> --vm\` of the imported busybox VM image: ${lxcReason(error)}`,
      );
    }
    try {
      await untilExecSucceeds(() => this.#apiExec(name), TRIAL_AGENT_MS);
    } catch (error) {
      throw new NotAvailable(
        `the VM started but ${(error as Error).message} (LXD's VMs boot through UEFI and talk to lxd-agent over vsock; ` +
          'the busybox VM image boots its kernel directly and carries qemu-guest-agent)',
      );
    } finally {
      await this.#daemon.remove(name).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------- api

  #state(name: string, action: 'start' | 'stop', force: boolean) {
    return this.#daemon.client.run('PUT', `/1.0/instances/${name}/state`, {
      action,
      force,
      timeout: STOP_TIMEOUT_S,
    });
  }

  async #apiExec(name: string): Promise<void> {
    // record-output without websockets: the daemon runs the command to
    // completion and the operation carries the exit code.
    const op = await this.#daemon.client.run('POST', `/1.0/instances/${name}/exec`, {
      command: ['true'],
      environment: {},
      'wait-for-websocket': false,
      interactive: false,
      'record-output': true,
    });
    const code = op.metadata?.['return'];
    if (code !== 0) throw new Error(`exec true in ${name}: exit code ${String(code)}`);
  }

  #apiPath(): VmPath {
    return {
      method:
        'the bench HTTP client on the unix socket, every async call followed by /1.0/operations/<id>/wait. ' +
        'launch = POST /1.0/instances {type: virtual-machine, source alias} + PUT state start, then POST exec `true` until one succeeds; ' +
        'start = PUT state start, then the same; exec = POST exec {record-output, wait-for-websocket: false} until the exit code; ' +
        `stop = PUT state {stop, timeout: ${STOP_TIMEOUT_S}}; stop --force = PUT state {stop, force}; delete = DELETE of the stopped VM`,
      launch: async (name) => {
        this.#daemon.created.add(name);
        await this.#daemon.client.run('POST', '/1.0/instances', {
          name,
          type: 'virtual-machine',
          source: { type: 'image', alias: VM_IMAGE_ALIAS },
        });
        await this.#state(name, 'start', false);
        await untilExecSucceeds(() => this.#apiExec(name));
      },
      start: async (name) => {
        await this.#state(name, 'start', false);
        await untilExecSucceeds(() => this.#apiExec(name));
      },
      exec: (name) => this.#apiExec(name),
      stop: async (name) => {
        const began = Date.now();
        await this.#state(name, 'stop', false);
        // Past its timeout the daemon forces the stop without saying so.
        if (Date.now() - began >= STOP_TIMEOUT_S * 1000)
          throw new Error(`the graceful stop took ${STOP_TIMEOUT_S} s or more: it was forced`);
      },
      stopForce: async (name) => void (await this.#state(name, 'stop', true)),
      delete: async (name) => {
        await this.#daemon.client.run('DELETE', `/1.0/instances/${name}`);
        this.#daemon.created.delete(name);
      },
    };
  }

  // ------------------------------------------------------------- cli

  #lxc(...args: string[]) {
    return this.#daemon.cli.run(args.slice(0, 1), args.slice(1));
  }

  #cliPath(): VmPath {
    const exec = async (name: string) => void (await this.#lxc('exec', name, '--', 'true'));
    return {
      method:
        '`lxc` spawned with LXD_DIR=<daemon dir> and --project: `lxc launch IMAGE NAME --vm`, then `lxc exec NAME -- true` until one succeeds; ' +
        '`lxc start` and the same; `lxc exec NAME -- true`; `lxc stop`; `lxc stop -f`; `lxc delete` (of the stopped VM)',
      launch: async (name) => {
        this.#daemon.created.add(name);
        await this.#lxc('launch', VM_IMAGE_ALIAS, name, '--vm');
        await untilExecSucceeds(() => exec(name));
      },
      start: async (name) => {
        await this.#lxc('start', name);
        await untilExecSucceeds(() => exec(name));
      },
      exec,
      stop: async (name) => void (await this.#lxc('stop', name)),
      stopForce: async (name) => void (await this.#lxc('stop', '-f', name)),
      delete: async (name) => {
        await this.#lxc('delete', name);
        this.#daemon.created.delete(name);
      },
    };
  }

  // ------------------------------------------------------------- set-up

  status(name: string): Promise<string> {
    return this.#daemon.status(name);
  }

  accelerator(name: string): Promise<string | null> {
    // Berth keeps its QEMUs' pid files under its data dir, as the engine does.
    return Promise.resolve(
      this.id === 'berth'
        ? berthVmAccelerator(this.#daemon.dir, this.#options.project, name)
        : null,
    );
  }

  remove(name: string): Promise<void> {
    return this.#daemon.remove(name);
  }

  cleanup(): Promise<string[]> {
    return this.#daemon.close();
  }
}
