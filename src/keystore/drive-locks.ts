import { PcoccError } from "../util/index.js";
import type { Keystore, LeaseKeeper } from "./client.js";
import { DRIVE_HOLDER, driveHoldersPrefix, recordOrUndefined, type DriveHolder } from "./layout.js";

/**
 * Multi-mount protection of persistent drives across nodes. Each hypervisor holds its drives under a lease
 * of its own (not the job's: the job outlives a VM killed with SIGKILL), kept alive by that process only,
 * so a holder that dies loses its claim one TTL later at the latest, wherever it ran. Among holders of one
 * path the earliest key wins: two VMs claiming at once both write, both read, and the later one backs off.
 */
const DRIVE_LEASE_TTL_SECONDS = 10;

export interface DriveClaim {
  /** Real path of the drive as the hypervisor resolved it (the same on every node of a shared file system). */
  path: string;
  /** `mmp: cluster`: other VMs of the same job may hold it too. */
  shared: boolean;
}

export interface DriveLocks {
  /** Drops every claim (at VM end). */
  release(): Promise<void>;
}

function describeHolder(h: DriveHolder, self: DriveHolder): string {
  if (h.jobId === self.jobId) return `drive file is already used in this cluster (by ${h.vm} on ${h.host})`;
  return `drive file is already used in cluster ${h.jobId} (${h.vm} on ${h.host}, user ${h.user})`;
}

/** The earliest other holder `me` must give way to, if any. */
function conflictFor(
  entries: Iterable<{ key: string; value: unknown; createRevision: number }>,
  mine: { key: string; createRevision: number },
  me: DriveHolder,
): DriveHolder | undefined {
  let first: { rev: number; holder: DriveHolder } | undefined;
  for (const e of entries) {
    if (e.key === mine.key || e.createRevision > mine.createRevision) continue;
    const h = recordOrUndefined(DRIVE_HOLDER, e.value);
    // a key that is not a holder record blocks too: the user's tree, but not ours to judge
    const holder = h ?? { jobId: 0, vm: "vm?", host: "?", user: me.user, shared: false };
    if (holder.jobId === me.jobId && holder.shared && me.shared) continue;
    if (!first || e.createRevision < first.rev) first = { rev: e.createRevision, holder };
  }
  return first?.holder;
}

/**
 * Claims `drives` for one VM (`holder`), all or none: a drive another VM holds is refused with who holds
 * it, as far as this user's keystore tree tells (other users' claims are in their own trees; QEMU's own
 * image locking stands in for those).
 */
export async function claimDrives(
  ks: Keystore,
  holder: Omit<DriveHolder, "shared">,
  drives: DriveClaim[],
): Promise<DriveLocks> {
  const lease = await ks.grantLease(DRIVE_LEASE_TTL_SECONDS);
  const keeper: LeaseKeeper = ks.keepAlive([lease], DRIVE_LEASE_TTL_SECONDS);
  const release = async (): Promise<void> => {
    keeper.close();
    await ks.revokeLease(lease).catch(() => undefined);
  };
  try {
    for (const d of drives) {
      const me: DriveHolder = { ...holder, shared: d.shared };
      const prefix = driveHoldersPrefix(holder.user, d.path);
      const key = `${prefix}${holder.jobId}.${holder.vm}`;
      const revision = await ks.put(key, me, { lease });
      const { entries } = await ks.getPrefix(prefix);
      const mine = { key, createRevision: entries.get(key)?.createRevision ?? revision };
      const conflict = conflictFor(entries.values(), mine, me);
      if (conflict) throw new PcoccError(`persistent drive ${d.path}: ${describeHolder(conflict, me)}`);
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { release };
}
