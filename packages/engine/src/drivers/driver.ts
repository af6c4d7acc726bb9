// The driver interface: what differs between a container (LXC) and a virtual
// machine (QEMU), and what a driver is given and reports back. The common
// logic (validation, expansion, snapshots' records, locks, operations) lives
// in the instance service above it; what both drivers share sits in
// driver-common.ts, like LXD's driver_common.go. Every method is required: a
// driver that cannot do a thing throws EngineError NOT_IMPLEMENTED. Methods
// join the interface when a caller needs them (snapshots are copies made by
// the storage pool, so no driver snapshots storage itself).
import type {
  ConfigMap,
  DeviceMap,
  InstanceState,
  InstanceStatus,
  InstanceType,
} from '../schemas/index.ts';
import type { IdmapSet } from '../validation/index.ts';

/** What a driver knows of an instance: its identity and expanded config. */
export interface DriverInstance {
  id: number;
  project: string;
  name: string;
  type: InstanceType;
  architecture: string;
  /** Profiles applied, then local config (see expand-config.ts). */
  expandedConfig: ConfigMap;
  expandedDevices: DeviceMap;
  /** Local config, including the engine-owned `volatile.*` keys. */
  localConfig: ConfigMap;
  /** Where the storage pool keeps it: `dir` holds `rootfs/` (containers) or disk images (VMs). */
  paths: { dir: string; rootfs: string };
}

export interface ExecRequest {
  command: string[];
  environment?: Record<string, string>;
  cwd?: string;
  user?: number;
  group?: number;
  /** Allocate a pty (interactive), with its first size. */
  interactive?: { cols: number; rows: number };
  /**
   * The command's stdin when not interactive: `stream` (the default) is what
   * the caller writes to ExecProcess.stdin until it ends it; `none` is
   * /dev/null (LXD's exec without websockets); bytes are given whole, then EOF.
   */
  stdin?: 'stream' | 'none' | Uint8Array;
}

/** A running command in an instance (LXD's `Cmd`). */
export interface ExecProcess {
  readonly pid: number;
  /** Output when not interactive; the pty's bytes when interactive. */
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream | null;
  readonly stdin: NodeJS.WritableStream;
  wait(): Promise<number>;
  signal(signal: NodeJS.Signals | number): void;
  resize(cols: number, rows: number): void;
}

export interface ConsoleStream {
  readonly output: NodeJS.ReadableStream;
  readonly input: NodeJS.WritableStream;
  resize(cols: number, rows: number): void;
  close(): void;
}

/** A VM's graphical console: the RFB (VNC) protocol of its VGA screen, as bytes both ways. */
export interface GraphicalConsoleStream {
  /** Ends when the VM (or the connection) goes. */
  readonly output: NodeJS.ReadableStream;
  readonly input: NodeJS.WritableStream;
  close(): void;
}

export interface FileEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  target?: string;
}

/**
 * What a path is, read without opening it (stat and directory listings):
 * as FileEntry, plus `other` for device nodes, FIFOs and sockets, which are
 * listed but never read. Ids are the instance's own.
 */
export interface FileStat extends Omit<FileEntry, 'type'> {
  type: FileEntry['type'] | 'other';
}

export interface FileWrite {
  /** LXD's `X-LXD-type`: a regular file (default), a directory, or a symlink to `target`. */
  type?: 'file' | 'directory' | 'symlink';
  /** For files. */
  content?: Buffer;
  /** For symlinks: what the link points at (resolved inside the container by the container). */
  target?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  createParents?: boolean;
}

export interface DriverSupport {
  available: boolean;
  /** Why not, for the user ("lxc-start not found: apt-get install lxc"). */
  reason?: string;
  /** e.g. `{ accel: 'tcg' }`, `{ version: '5.0.2' }`. */
  details?: Record<string, string>;
}

/**
 * How a driver wants an image's rootfs changed before an instance uses it
 * (the lxc driver: shifted to the instance's id map). The image service
 * keeps one prepared copy per image and `key`, so launches copy that and
 * skip the work (as LXD keeps image volumes).
 */
export interface RootfsPreparation {
  /** Same key, same result; a file-name-safe string. */
  key: string;
  /** Turns a private copy of the image's rootfs into the prepared tree. */
  prepare(rootfs: string): Promise<void>;
  /** Handed back to `create` for a volume copied from the prepared tree. */
  prepared: string;
}

export interface StartOptions {
  /**
   * Runs on from the state a stateful stop or snapshot saved in the volume
   * instead of booting (CONFLICT when there is none). Without it, a saved
   * state is dropped and the instance boots.
   */
  restoreState?: boolean;
}

/** A running instance's memory and devices, kept in its volume. */
export interface SavedState {
  /** Whether the volume holds a saved state. */
  has(instance: DriverInstance): boolean;
  /** Saves the state, then stops the instance; on a failed save it runs on as it was. */
  stop(instance: DriverInstance): Promise<void>;
  /**
   * Saves the state into the volume with the instance paused, runs `work`
   * (a copy of the volume, which then carries the state), removes the
   * volume's own copy and resumes it, also when `work` fails.
   */
  withSaved<T>(instance: DriverInstance, work: () => Promise<T>): Promise<T>;
}

export interface InstanceDriver {
  readonly type: InstanceType;
  readonly name: 'lxc' | 'qemu';

  /** What an image's rootfs needs before `instance` uses it; `null`: nothing, copy it as unpacked. */
  imagePreparation(instance: DriverInstance): RootfsPreparation | null;
  /**
   * Prepares what the instance needs on disk (config files, rootfs from
   * image). `prepared`: the volume was copied from a tree made by that
   * preparation (its `prepared` value), not from the image as unpacked.
   */
  create(instance: DriverInstance, source: { prepared?: string }): Promise<void>;
  delete(instance: DriverInstance): Promise<void>;
  rename(instance: DriverInstance, newName: string): Promise<void>;
  /** Applies a config change to a running instance where the key is live-updatable. */
  update(instance: DriverInstance, previous: DriverInstance): Promise<void>;

  start(instance: DriverInstance, options?: StartOptions): Promise<void>;
  /** Forced stop. */
  stop(instance: DriverInstance): Promise<void>;
  /** Clean shutdown, waiting at most `timeoutMs`. */
  shutdown(instance: DriverInstance, timeoutMs: number): Promise<void>;
  freeze(instance: DriverInstance): Promise<void>;
  unfreeze(instance: DriverInstance): Promise<void>;
  /**
   * Runs `work` (a copy of the instance's volume: a snapshot, a copy) while
   * the volume's files are a whole, consistent image of what the instance
   * wrote, and resumes the instance afterwards, also when `work` fails. A
   * container writes through the host's filesystem, so there is nothing to
   * do; a running VM's disk is only whole once the guest has written out
   * its filesystems and QEMU has flushed its block layer and stopped
   * writing (the qemu driver freezes them through the agent and pauses it).
   */
  withQuiescedStorage<T>(instance: DriverInstance, work: () => Promise<T>): Promise<T>;
  /** Saved runtime state (LXD's migration.stateful); absent where there is none (containers: no CRIU). */
  readonly savedState?: SavedState;

  status(instance: DriverInstance): Promise<InstanceStatus>;
  renderState(instance: DriverInstance): Promise<InstanceState>;

  exec(instance: DriverInstance, request: ExecRequest): Promise<ExecProcess>;
  console(instance: DriverInstance, size: { cols: number; rows: number }): Promise<ConsoleStream>;
  consoleLog(instance: DriverInstance): Promise<string>;
  /** The VGA screen over VNC (LXD's `console` of type `vga`); a container has none (NOT_IMPLEMENTED). */
  graphicalConsole(instance: DriverInstance): Promise<GraphicalConsoleStream>;

  filePull(
    instance: DriverInstance,
    path: string,
  ): Promise<{ entry: FileEntry; content?: Buffer; entries?: string[] }>;
  filePush(instance: DriverInstance, path: string, file: FileWrite): Promise<void>;
  /** The path itself (a symlink is not followed), contents unread. */
  stat(instance: DriverInstance, path: string): Promise<FileStat>;
  /**
   * A directory's entries sorted by name, each stat'ed and never read nor
   * followed; a symlink as `path` itself is followed (inside the instance).
   */
  listDirectory(instance: DriverInstance, path: string): Promise<FileStat[]>;
  fileRemove(instance: DriverInstance, path: string): Promise<void>;

  /** The engine is closing: stop watching the host (instances keep running). */
  close(): void;
}

/** What happened to an instance outside an engine call (LXC hooks, a QEMU exit). */
export interface InstanceHostEvent {
  type: 'started' | 'stopping' | 'stopped';
  project: string;
  name: string;
  /** For `stopped`: `reboot` when the instance restarts itself, else `stop`. */
  target?: 'stop' | 'reboot';
}

/** What the engine gives every driver. */
export interface DriverEnvironment {
  dataDir: string;
  /** Makes sure a managed network exists and is up; returns its bridge interface. */
  ensureNetwork(name: string): Promise<{ bridge: string; mtu?: number }>;
  /** Drivers report instance events they notice (hooks, exits) here. */
  onInstanceEvent(event: InstanceHostEvent): void;
  /**
   * The host path a `disk` device with `pool` and a custom volume `source`
   * mounts, the volume shifted to `idmap` first (storage/volumes.ts). Absent
   * in engines built without volumes (driver unit tests): such disks are refused.
   */
  attachVolume?(request: VolumeAttachRequest): Promise<string>;
}

export interface VolumeAttachRequest {
  pool: string;
  project: string;
  /** The custom volume's name (the device's `source`). */
  volume: string;
  instance: string;
  instanceType: InstanceType;
  /** The device's key, for error messages. */
  device: string;
  /** The instance's id map; `null`: privileged, host ids. */
  idmap: IdmapSet | null;
}

/** How a driver is probed (once, at engine start) and made. */
export interface DriverFactory {
  readonly name: InstanceDriver['name'];
  probe(env: DriverEnvironment): Promise<DriverSupport>;
  create(env: DriverEnvironment): InstanceDriver;
}

/** One factory per instance type: a new type does not compile until it has one. */
export type DriverFactories = Record<InstanceType, DriverFactory>;
