export interface LabNode {
  name: string;
  ip: string;
  /** slurmd's pid: its network, UTS and mount namespaces are "the node" */
  pid: number;
}

export interface LabUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Which pcocc the lab's users and its SPANK plugin run: the checkout's or an installed Debian package's. */
export interface LabPcocc {
  source: "checkout" | "package";
  /** the pcocc executable (its directory leads the lab users' PATH) */
  bin: string;
  /** the SPANK plugin plugstack.conf loads; null while the checkout's is not built */
  spank: string | null;
}

export interface LabInfo {
  dir: string;
  nodes: LabNode[];
  controllerIp: string;
  slurmConf: string;
  /** system configuration directory of the lab (PCOCC_SYSTEM_CONF_DIR) */
  pcoccConfDir: string;
  /** caCert: the lab CA that signed etcd's server certificate (etcd speaks TLS only) */
  etcd: { endpoints: string[]; rootPasswordFile: string; caCert: string };
  user: LabUser;
  user2: LabUser;
  pcocc: LabPcocc;
}

export interface LabUpOptions {
  nodes?: number;
  cpus?: number;
  memMiB?: number;
  /** slurm.conf PrologFlags (e.g. "Alloc"); empty by default: salloc then returns without a 3 s poll */
  prologFlags?: string;
  /** build/import the guest images and write the `lab`/`lab-tiny` templates (default true) */
  images?: boolean;
  /**
   * a pcocc .deb to install (apt-get) and run instead of the checkout; left out, the lab runs the checkout
   * and purges a package an earlier `up` installed
   */
  fromPackage?: string;
  /** progress lines (default: none) */
  onProgress?: (message: string) => void;
}

/** What a running lab records in `<lab>/run/lab.json`: its public info plus the pids it must stop. */
export interface LabState {
  info: LabInfo;
  options: { nodes: number; cpus: number; memMiB: number; prologFlags: string };
  daemons: { etcd: number; munged: number; slurmctld: number };
  /** mount points the lab created on the host (removed by down when still empty) */
  createdMountpoints: string[];
  /** the lab installed the pcocc Debian package (and purges it when going back to the checkout or down) */
  installedPackage?: boolean;
  /** every daemon answered once; false while starting (a crashed start is torn down by the next up) */
  ready: boolean;
}
