import { parseClusterFacts, type ClusterFacts } from "../cluster/index.js";
import { PcoccError } from "../util/index.js";
import type { DriveLocker, PersistentDriveSetting } from "./persistent-drives.js";
import type { DiskCache, DiskModel, MountSpec, NicSpec } from "./qemu-argv.js";

/**
 * The template settings the VM runtime reads, under pcocc's kebab-case names (plus this project's
 * `accelerator`, `initrd` and `kernel-args`). Persistent-drive paths are expanded per VM by the hypervisor.
 */
export interface VmTemplateSettings {
  "qemu-bin"?: string | null;
  "machine-type"?: string | null;
  "cpu-model"?: string | null;
  "nic-model"?: string | null;
  "disk-model"?: DiskModel | null;
  "disk-cache"?: DiskCache | null;
  "custom-args"?: string[] | null;
  "user-data"?: string | Record<string, unknown> | null;
  "instance-id"?: string | null;
  "mount-points"?: Record<
    string,
    string | { path: string; readonly?: boolean; type?: MountSpec["type"] }
  > | null;
  kernel?: string | null;
  initrd?: string | null;
  "kernel-args"?: string | null;
  accelerator?: "auto" | "kvm" | "tcg" | null;
  "persistent-drives"?: PersistentDriveSetting[] | null;
  "bind-vcpus"?: boolean | null;
  "emulator-cores"?: number | null;
  "full-node"?: boolean | null;
  "remote-display"?: "spice" | null;
}

/**
 * What the hypervisor reports as it goes: the keystore's VM states (see VM_STATES there) plus `stopping` and
 * `stopped`, which the task publishes as `failed` with that reason.
 */
export type HypervisorState =
  "topology" | "temporary-disk" | "qemu-start" | "running" | "stopping" | "stopped" | "failed";

export interface HypervisorStateChange {
  state: HypervisorState;
  /** Failure reason, or extra facts (accelerator choice on `qemu-start`). */
  detail?: string;
}

/** Everything `pcocc internal run` needs to run one VM. */
export interface VmSpec {
  rank: number;
  /** `vmN` */
  name: string;
  /** `vmN` or `vmN.<domain>`, written to meta-data. */
  hostname: string;
  template: VmTemplateSettings;
  /** Absolute path of the image's top layer; none = a VM without a boot disk. */
  imagePath?: string;
  /** The repository URI it came from (recorded for `pcocc save`). */
  imageUri?: string;
  nics: NicSpec[];
  /** NICs still being looked up: the disk and seed are prepared meanwhile, QEMU starts once they came. */
  nicsReady?: Promise<NicSpec[]>;
  /** QEMU user networking, for tests that need no host network. */
  userNet?: { hostfwd?: string[] };
  vcpus: number;
  memoryMiB: number;
  /** `--user-data FILE`: replaces the template's user-data. */
  userDataFile?: string;
  /** The whole cluster, for the seed (see cluster/facts.ts); none outside a job. */
  facts?: ClusterFacts;
  /** Overrides the template's instance-id. */
  instanceId?: string;
  /** `--mount` specs; they replace template mount points with the same tag. */
  mounts?: MountSpec[];
  /** Per-VM state directory (created 0700, removed at exit). */
  stateDir: string;
  /** Progress for the launcher and `pcocc console` (published to the keystore by the caller). */
  onState?: (change: HypervisorStateChange) => void;
  /** Start-up phases as they end (overlay, seed, qemu-spawn, qmp-ready, console = first console byte). */
  onPhase?: (phase: string) => void;
  /** Stops the VM like SIGTERM does (in addition to SIGTERM/SIGINT of this process). */
  signal?: AbortSignal;
  /** `powerdown`: ACPI power button, then `quit` after `powerdownGraceMs`. Default `quit`. */
  shutdown?: "quit" | "powerdown";
  powerdownGraceMs?: number;
  /**
   * Restart from a checkpoint: the overlay sits on the checkpointed disk layer instead of the image, and
   * QEMU loads the VM's state from `memory` instead of booting.
   */
  restore?: { disk?: string; memory: string };
  /** Multi-mount protection of persistent drives across nodes; none = QEMU's image lock only. */
  driveLocker?: DriveLocker;
  /** Let QEMU's stderr through (pcocc does with -v). */
  qemuStderr?: boolean;
}

export function mountsFromTemplate(tpl: VmTemplateSettings, cli: MountSpec[] = []): MountSpec[] {
  const byTag = new Map<string, MountSpec>();
  for (const [tag, v] of Object.entries(tpl["mount-points"] ?? {})) {
    if (!v) continue;
    if (typeof v === "string") byTag.set(tag, { tag, path: v });
    else if (typeof v.path === "string")
      byTag.set(tag, { tag, path: v.path, readonly: v.readonly ?? false, type: v.type ?? "virtio-9p" });
    else throw new PcoccError(`mount point ${tag} has no path`);
  }
  for (const m of cli) byTag.set(m.tag, m);
  return [...byTag.values()];
}

/** Checks a VmSpec read from JSON (`internal run --spec`): the fields the hypervisor cannot do without. */
export function parseVmSpec(value: unknown, source: string): VmSpec {
  const v = value as Record<string, unknown> | null;
  const bad = (key: string, what: string): never => {
    throw new PcoccError(`${source}: ${key} must be ${what}`);
  };
  if (!v || typeof v !== "object") throw new PcoccError(`${source}: a VM spec must be a JSON object`);
  if (!Number.isInteger(v.rank) || (v.rank as number) < 0) bad("rank", "a non-negative integer");
  for (const key of ["name", "hostname", "stateDir"])
    if (typeof v[key] !== "string" || v[key] === "") bad(key, "a non-empty string");
  if (!/^vm\d+$/.test(v.name as string)) bad("name", "vmN");
  for (const key of ["vcpus", "memoryMiB"])
    if (!Number.isInteger(v[key]) || (v[key] as number) < 1) bad(key, "a positive integer");
  if (!Array.isArray(v.nics)) bad("nics", "a list");
  if (typeof v.template !== "object" || v.template === null) bad("template", "an object");
  if (v.imagePath !== undefined && typeof v.imagePath !== "string") bad("imagePath", "a path");
  if (v.facts !== undefined) v.facts = parseClusterFacts(v.facts, `${source}: facts`);
  if (v.restore !== undefined) {
    const r = v.restore as Record<string, unknown> | null;
    if (!r || typeof r.memory !== "string" || (r.disk !== undefined && typeof r.disk !== "string"))
      bad("restore", "{ memory: path, disk?: path }");
  }
  return v as unknown as VmSpec;
}
