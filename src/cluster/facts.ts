import { z } from "zod";
import { PcoccError } from "../util/index.js";

/**
 * Cluster facts: what every VM of a job learns about the whole cluster at boot. The VM task (launcher side)
 * gathers them from the keystore before QEMU starts — every address is planned by the nodes' network setup
 * before any VM boots, so no VM waits for another — and the seed writer (hypervisor side) delivers them:
 *   - as `/etc/pcocc/cluster.json` (0600 root) in the guest, through a #cloud-config `write_files` entry;
 *   - as `%{...}` substitutions in the VM's user-data (see substituteFacts).
 * This module is the one owner of the record, its JSON form and the substitution names.
 */

/** Where the guest finds the facts. */
export const CLUSTER_FACTS_PATH = "/etc/pcocc/cluster.json";

/** The per-job shared secret: 32 random bytes, hex. */
export const SECRET_PATTERN = /^[0-9a-f]{64}$/;

export interface VmNetFacts {
  mac: string;
  /** Private address on the job's network (L3 networks only). */
  ip?: string;
  /** The VM's address on the external (NAT) side. */
  natIp?: string;
  domain?: string;
}

export interface VmFacts {
  name: string;
  index: number;
  /** The template the VM was made from: its role in the cluster. */
  template: string;
  /** Private and NAT address of the VM's first network that has them. */
  ip?: string;
  natIp?: string;
  networks: Record<string, VmNetFacts>;
}

export interface ClusterFacts {
  version: 1;
  jobId: number;
  /** Index of the VM these facts were written for. */
  self: number;
  /** Shared by every VM of the job, readable by the job's user and root only. */
  secret: string;
  /** The job's user on the host, for recipes that give them the same account inside. */
  user: { name: string; uid: number; gid: number };
  vms: VmFacts[];
}

const ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/);
const NET_FACTS = z.object({
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i),
  ip: ipv4.optional(),
  natIp: ipv4.optional(),
  domain: z.string().max(253).optional(),
});
const VM_FACTS = z.object({
  name: z.string().regex(/^vm\d+$/),
  index: z.number().int().min(0),
  template: z.string().min(1).max(255),
  ip: ipv4.optional(),
  natIp: ipv4.optional(),
  networks: z.record(NET_FACTS),
});
const FACTS = z
  .object({
    version: z.literal(1),
    jobId: z.number().int().min(0),
    self: z.number().int().min(0),
    secret: z.string().regex(SECRET_PATTERN),
    user: z.object({
      name: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i),
      uid: z.number().int().min(0),
      gid: z.number().int().min(0),
    }),
    vms: z.array(VM_FACTS).min(1),
  })
  .refine((f) => f.self < f.vms.length && f.vms.every((v, i) => v.index === i), {
    message: "vms must be listed by index and include self",
  });

/** Checks facts that crossed a process boundary (a VM spec read from JSON). */
export function parseClusterFacts(value: unknown, source: string): ClusterFacts {
  const r = FACTS.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const at = issue && issue.path.length > 0 ? ` (${issue.path.join(".")})` : "";
  throw new PcoccError(`${source}: malformed cluster facts${at}: ${issue?.message ?? "invalid"}`);
}

/** The guest file's content. */
export function renderClusterFacts(facts: ClusterFacts): string {
  return `${JSON.stringify(facts, null, 2)}\n`;
}

/**
 * The `%{...}` names a user-data may use (documented in recipes/README.md):
 *   %{vm.name|index|template|ip|nat_ip}     this VM        %{vmN.name|...}   VM N
 *   %{job.id}  %{job.secret}  %{job.user|uid|gid}          %{cluster.size}   %{cluster.names} (space-separated)
 *   %{role:TEMPLATE.names|ips|count|first}  the VMs made from TEMPLATE (`first`: the lowest-index one's name)
 *   %%{ is a literal %{. Any other %{...} is left as it is, so existing user-data keeps working.
 */
export function substituteFacts(text: string, facts: ClusterFacts): string {
  return text.replace(/%(%?)\{([^}\n]*)\}/g, (whole, escaped: string, name: string) => {
    if (escaped) return whole.slice(1);
    const v = factValue(name, facts);
    return v === undefined ? whole : v;
  });
}

function vmField(vm: VmFacts, field: string, name: string): string {
  const fields: Record<string, string | undefined> = {
    name: vm.name,
    index: String(vm.index),
    template: vm.template,
    ip: vm.ip,
    nat_ip: vm.natIp,
  };
  if (!Object.hasOwn(fields, field)) throw new PcoccError(`user-data: unknown variable %{${name}}`);
  const v = fields[field];
  if (v === undefined) throw new PcoccError(`user-data: %{${name}}: ${vm.name} has no such address`);
  return v;
}

/** The value of `name`, or undefined when it is not one of ours. */
function factValue(name: string, facts: ClusterFacts): string | undefined {
  const unknown = (): never => {
    throw new PcoccError(`user-data: unknown variable %{${name}}`);
  };
  let m = /^vm(\d*)\.([a-z_]+)$/.exec(name);
  if (m) {
    const vm = facts.vms[m[1] === "" ? facts.self : Number(m[1])];
    if (!vm) throw new PcoccError(`user-data: %{${name}}: the cluster has no vm${m[1]}`);
    return vmField(vm, m[2]!, name);
  }
  if (name === "job.id") return String(facts.jobId);
  if (name === "job.secret") return facts.secret;
  if (name === "job.user") return facts.user.name;
  if (name === "job.uid") return String(facts.user.uid);
  if (name === "job.gid") return String(facts.user.gid);
  if (name === "cluster.size") return String(facts.vms.length);
  if (name === "cluster.names") return facts.vms.map((v) => v.name).join(" ");
  m = /^role:([^.]+)\.([a-z]+)$/.exec(name);
  if (m) {
    const vms = facts.vms.filter((v) => v.template === m![1]);
    switch (m[2]) {
      case "names":
        return vms.map((v) => v.name).join(" ");
      case "ips":
        return vms.map((v) => vmField(v, "ip", name)).join(" ");
      case "count":
        return String(vms.length);
      case "first":
        if (!vms[0]) throw new PcoccError(`user-data: %{${name}}: no VM of template ${m[1]}`);
        return vms[0].name;
    }
  }
  if (/^(vm\d*|job|cluster|role:)/.test(name)) unknown();
  return undefined;
}
