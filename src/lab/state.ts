import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { labPaths } from "./layout.js";
import type { LabPaths } from "./layout.js";
import { ovsPids } from "./slurm.js";
import { processAlive } from "./procs.js";
import type { LabState } from "./types.js";

export function readLabState(paths: LabPaths): LabState | null {
  try {
    return JSON.parse(readFileSync(paths.stateFile, "utf8")) as LabState;
  } catch {
    return null;
  }
}

export function writeLabState(paths: LabPaths, state: LabState): void {
  const tmp = `${paths.stateFile}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, paths.stateFile);
}

/** Which of the lab's daemons are alive (a pid only counts while its command line names the lab). */
export function daemonHealth(state: LabState): Record<string, boolean> {
  const dir = state.info.dir;
  const health: Record<string, boolean> = {
    etcd: processAlive(state.daemons.etcd, dir),
    munged: processAlive(state.daemons.munged, dir),
    slurmctld: processAlive(state.daemons.slurmctld, dir),
  };
  const paths = labPaths(dir);
  for (const n of state.info.nodes) {
    health[`slurmd@${n.name}`] = processAlive(n.pid, dir);
    const ovs = ovsPids(paths, n.name);
    health[`ovsdb-server@${n.name}`] = processAlive(ovs.ovsdb, dir);
    health[`ovs-vswitchd@${n.name}`] = processAlive(ovs.vswitchd, dir);
  }
  return health;
}

export function labRunning(state: LabState): boolean {
  return Object.values(daemonHealth(state)).every(Boolean);
}
