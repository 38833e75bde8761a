import { z } from "zod";
import { MAC_ADDRESS, MAC_PREFIX, PCI_ADDRESS, parseCidr, parseIPv4 } from "./netaddr.js";
import { parseReadinessCheck } from "./readiness.js";

/**
 * One zod schema per configuration file and network type, keeping pcocc's kebab-case keys. Every object is
 * strict: pcocc silently ignored unknown template keys and resource-set keys, so typos went unnoticed.
 */

export const NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]*$/;

const nonEmpty = z.string().min(1, "must not be empty");
const port = z.number().int().min(1).max(65535);
const mtu = z.number().int().min(68).max(65535);
const ipv4 = z.string().refine((v) => parseIPv4(v) !== undefined, { message: "not an IPv4 address" });
const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  message: "not a network in CIDR notation (a.b.c.d/n with host bits zero)",
});
const macPrefix = z.string().regex(MAC_PREFIX, "not a MAC prefix (1 to 4 hex bytes, e.g. 52:54:00)");
const macAddress = z.string().regex(MAC_ADDRESS, "not a MAC address");
/** Names handed to the kernel as interface name prefixes (IFNAMSIZ leaves room for a short index). */
const ifPrefix = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_]{0,7}$/, "must be a letter then up to 7 letters, digits or _");

/** Not a pcocc key: which OVS datapath the job bridges use (the lab has only the userspace one). */
const datapathType = z.enum(["system", "netdev"]).default("system");

// ---------------------------------------------------------------------------------------------- batch.yaml

export const batchSchema = z
  .object({
    type: z.enum(["slurm", "local"]),
    settings: z
      .object({
        "etcd-servers": z.array(nonEmpty).min(1, "needs at least one server"),
        "etcd-client-port": port,
        // https unless said otherwise: the keystore passwords cross the network
        "etcd-protocol": z.enum(["http", "https"]).default("https"),
        "etcd-auth-type": z.enum(["password", "munge", "none"]),
        "etcd-ca-cert": z.string().startsWith("/", "must be an absolute path").optional(),
        "batch-args": z.array(z.string()).optional(),
      })
      .strict()
      .superRefine((s, ctx) => {
        // a CA with http would look like TLS to whoever reads the file while passwords go in clear
        if (s["etcd-ca-cert"] !== undefined && s["etcd-protocol"] === "http")
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["etcd-ca-cert"],
            message: "is only used with etcd-protocol https",
          });
      }),
  })
  .strict();
export type BatchConfig = z.infer<typeof batchSchema>;

// -------------------------------------------------------------------------------------------- networks.yaml

const reverseNat = z
  .object({ "vm-port": port, "min-host-port": port, "max-host-port": port })
  .strict()
  .superRefine((r, ctx) => {
    if (r["min-host-port"] > r["max-host-port"])
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["min-host-port"],
        message: `min-host-port (${r["min-host-port"]}) is greater than max-host-port (${r["max-host-port"]})`,
      });
  });

const ethernetSettings = z
  .object({
    "dev-prefix": ifPrefix,
    "network-layer": z.enum(["L3", "L2"]).default("L3"),
    "int-network": cidr.default("10.200.0.0/16"),
    "ext-network": cidr.default("10.201.0.0/16"),
    "mac-prefix": macPrefix.default("52:54:00"),
    "mac-start-offset": z.number().int().min(0).default(0),
    "host-if-suffix": z.string().default(""),
    mtu: mtu.default(1500),
    "domain-name": z.string().optional(),
    "dns-search": z.string().optional(),
    "dns-server": ipv4.optional(),
    "ntp-server": z.string().optional(),
    "reverse-nat": reverseNat.optional(),
    gateway: z.string().optional(),
    "allow-outbound": z.enum(["all", "none"]).default("all"),
    "manage-ip-forward": z.boolean().default(true),
    "datapath-type": datapathType,
  })
  .strict()
  .superRefine((s, ctx) => {
    const int = parseCidr(s["int-network"]);
    const ext = parseCidr(s["ext-network"]);
    // Every VM of every job needs its own external (NAT) address, so ext must hold at least as many as int.
    if (int && ext && ext.prefix > int.prefix)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["ext-network"],
        message: `ext-network ${s["ext-network"]} is smaller than int-network ${s["int-network"]}`,
      });
  });

/** pcocc wrote pkeys as strings, but an unquoted 0x2000 is a YAML integer: accept both. */
const pkey = z
  .union(
    [z.number().int(), z.string().regex(/^0x[0-9a-fA-F]{1,4}$/, "not a partition key (0x0001 to 0x7fff)")],
    {
      errorMap: () => ({ message: "not a partition key (0x0001 to 0x7fff)" }),
    },
  )
  .transform((v) => (typeof v === "number" ? v : Number.parseInt(v, 16)))
  .refine((v) => v >= 1 && v <= 0x7fff, { message: "not a partition key (0x0001 to 0x7fff)" });

const hostIbSettings = z.object({ "host-device": nonEmpty }).strict();

const ibSettings = z
  .object({
    "host-device": nonEmpty,
    "min-pkey": pkey,
    "max-pkey": pkey,
    "opensm-daemon": nonEmpty,
    "opensm-partition-cfg": nonEmpty,
    "opensm-partition-tpl": nonEmpty,
    license: z.string().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s["min-pkey"] > s["max-pkey"])
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["min-pkey"],
        message: `min-pkey (0x${s["min-pkey"].toString(16)}) is greater than max-pkey (0x${s["max-pkey"].toString(16)})`,
      });
  });

const bridgedSettings = z
  .object({
    "host-bridge": nonEmpty,
    "tap-prefix": ifPrefix,
    mtu: mtu.default(1500),
    vlans: z
      .array(
        z
          .object({ vid: z.number().int().min(0).max(4095), type: z.enum(["native", "tagged", "untagged"]) })
          .strict(),
      )
      .optional(),
  })
  .strict();

const genericPciSettings = z
  .object({
    "host-device-addrs": z
      .array(z.string().regex(PCI_ADDRESS, "not a PCI address ([dddd:]bb:dd.f)"))
      .min(1, "needs at least one device"),
    "host-driver": nonEmpty,
  })
  .strict();

const pvSettings = z
  .object({
    "bridge-prefix": ifPrefix,
    "tap-prefix": ifPrefix,
    "mac-prefix": macPrefix.default("52:54:00"),
    mtu: mtu.default(1500),
    "host-if-suffix": z.string().default(""),
    "datapath-type": datapathType,
  })
  .strict();

const natSettings = z
  .object({
    "nat-network": cidr,
    "vm-network": cidr,
    "vm-network-gw": ipv4,
    "vm-ip": ipv4,
    // pcocc's one shared bridge; here the name prefix of each VM's own bridge (all VMs have one MAC and address)
    bridge: ifPrefix,
    "tap-prefix": ifPrefix,
    "vm-hwaddr": macAddress.default("52:54:00:44:AE:5E"),
    "bridge-hwaddr": macAddress.default("52:54:00:C0:C0:C0"),
    mtu: mtu.default(1500),
    "domain-name": z.string().optional(),
    "dns-server": ipv4.optional(),
    "ntp-server": z.string().optional(),
    "reverse-nat": reverseNat.optional(),
    "allow-outbound": z.enum(["all", "none"]).default("all"),
    "datapath-type": datapathType,
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const [path, message] of natAddressIssues(s))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  });

/** The fixed addresses every VM of a nat network sees must make a usable private network. */
function natAddressIssues(s: {
  "vm-network": string;
  "vm-network-gw": string;
  "vm-ip": string;
  "vm-hwaddr": string;
  "bridge-hwaddr": string;
}): Array<[string[], string]> {
  const out: Array<[string[], string]> = [];
  const net = parseCidr(s["vm-network"]);
  if (net && net.prefix > 29)
    out.push([
      ["vm-network"],
      `vm-network ${s["vm-network"]} is too small (at most /29: VM, gateway and DHCP)`,
    ]);
  for (const key of ["vm-ip", "vm-network-gw"] as const) {
    const a = parseIPv4(s[key]);
    if (!net || a === undefined || net.prefix > 29) continue;
    const size = 2 ** (32 - net.prefix);
    if (a <= net.address || a >= net.address + size - 1)
      out.push([[key], `${key} ${s[key]} is not a host address of vm-network ${s["vm-network"]}`]);
  }
  if (s["vm-ip"] === s["vm-network-gw"])
    out.push([["vm-ip"], `vm-ip ${s["vm-ip"]} is also the vm-network-gw`]);
  if (s["vm-hwaddr"].toLowerCase() === s["bridge-hwaddr"].toLowerCase())
    out.push([["vm-hwaddr"], `vm-hwaddr ${s["vm-hwaddr"]} is also the bridge-hwaddr`]);
  for (const key of ["vm-hwaddr", "bridge-hwaddr"] as const)
    if (Number.parseInt(s[key].slice(0, 2), 16) % 2 === 1)
      out.push([[key], `${key} ${s[key]} is a multicast address`]);
  return out;
}

/** Settings schema per canonical type; aliases map onto these. */
export const networkSettingsSchemas = {
  ethernet: ethernetSettings,
  infiniband: ibSettings,
  "host-infiniband": hostIbSettings,
  "bridged-ethernet": bridgedSettings,
  genericpci: genericPciSettings,
  pv: pvSettings,
  nat: natSettings,
} as const;

export type NetworkType = keyof typeof networkSettingsSchemas;

export const NETWORK_TYPE_ALIASES: Record<string, NetworkType> = {
  ethernet: "ethernet",
  eth: "ethernet",
  infiniband: "infiniband",
  ib: "infiniband",
  "host-infiniband": "host-infiniband",
  hostib: "host-infiniband",
  "bridged-ethernet": "bridged-ethernet",
  bridged: "bridged-ethernet",
  genericpci: "genericpci",
  pv: "pv",
  nat: "nat",
};

/** First pass over a network entry: its type decides which settings schema applies. */
export const networkEntrySchema = z
  .object({
    type: z.string().refine((t) => t in NETWORK_TYPE_ALIASES, {
      message: `unknown network type (one of ${Object.keys(NETWORK_TYPE_ALIASES).join(", ")})`,
    }),
    settings: z.record(z.unknown()),
  })
  .strict();

type Settings<T extends NetworkType> = z.infer<(typeof networkSettingsSchemas)[T]>;
/** A network as loaded: `type` is canonical (`eth` becomes `ethernet`) and defaults are filled in. */
export type NetworkConfig = {
  [T in NetworkType]: { name: string; type: T; settings: Settings<T> };
}[NetworkType];
export type EthernetNetworkConfig = Extract<NetworkConfig, { type: "ethernet" }>;
export type EthernetSettings = EthernetNetworkConfig["settings"];

/** An ethernet network's settings with every default filled in: what pcocc's nat and pv amount to (src/net). */
export function defaultEthernetSettings(devPrefix: string): EthernetSettings {
  return ethernetSettings.parse({ "dev-prefix": devPrefix });
}

// ------------------------------------------------------------------------------------------- resources.yaml

export const resourceSetSchema = z
  .object({
    networks: z.array(z.string()),
    default: z.boolean().default(false),
  })
  .strict();
export type ResourceSet = z.infer<typeof resourceSetSchema> & { name: string };

// ------------------------------------------------------------------------------------------- templates.yaml

const mountPoint = z.union(
  [
    nonEmpty,
    z
      .object({
        path: nonEmpty,
        readonly: z.boolean().optional(),
        type: z.enum(["virtio-9p", "virtio-fs"]).optional(),
      })
      .strict(),
  ],
  { errorMap: () => ({ message: "expected a path or {path, readonly, type}" }) },
);

const persistentDrive = z.union(
  [
    nonEmpty,
    z.record(
      nonEmpty,
      z
        .object({
          mmp: z.union([z.boolean(), z.enum(["yes", "no", "cluster"])]).optional(),
          cache: z.enum(["writeback", "none", "unsafe", "writethrough", "directsync"]).optional(),
          backup: z.string().nullable().optional(),
        })
        .strict()
        .nullable(),
    ),
  ],
  { errorMap: () => ({ message: "expected a path or {PATH: {mmp, cache, backup}}" }) },
);

const readinessCheck = z.string().superRefine((text, ctx) => {
  const c = parseReadinessCheck(text);
  if ("error" in c) ctx.addIssue({ code: z.ZodIssueCode.custom, message: c.error });
});

/**
 * Every template setting may be null: pcocc reads an explicit null as "use the default", which is how a child
 * template drops a value it would otherwise inherit.
 */
export const templateSettingsSchema = z
  .object({
    inherits: nonEmpty.nullable(),
    description: z.string().nullable(),
    /** Not inherited: the template is part of the named recipe (recipes/README.md). */
    recipe: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, "invalid recipe name")
      .nullable(),
    image: z.union([nonEmpty, z.literal(false)]).nullable(),
    "resource-set": nonEmpty.nullable(),
    "user-data": z.union([nonEmpty, z.record(z.unknown())]).nullable(),
    "instance-id": nonEmpty.nullable(),
    "mount-points": z
      .record(z.string().regex(/^[A-Za-z0-9_-]+$/, "invalid mount tag"), mountPoint)
      .nullable(),
    "custom-args": z.array(z.string()).nullable(),
    "qemu-bin": nonEmpty.nullable(),
    "nic-model": nonEmpty.nullable(),
    "machine-type": nonEmpty.nullable(),
    "cpu-model": nonEmpty.nullable(),
    "disk-model": z.enum(["virtio", "virtio-scsi", "ide"]).nullable(),
    "disk-cache": z.enum(["writeback", "none", "unsafe", "writethrough", "directsync"]).nullable(),
    "emulator-cores": z.number().int().min(0).nullable(),
    "bind-vcpus": z.boolean().nullable(),
    "full-node": z.boolean().nullable(),
    "persistent-drives": z.array(persistentDrive).nullable(),
    "remote-display": z.enum(["spice"]).nullable(),
    kernel: nonEmpty.nullable(),
    initrd: nonEmpty.nullable(),
    "kernel-args": z.string().nullable(),
    accelerator: z.enum(["auto", "kvm", "tcg"]).nullable(),
    readiness: z.array(readinessCheck).nullable(),
    "readiness-timeout": z.number().int().min(1).max(86_400).nullable(),
  })
  .partial()
  .strict();
export type TemplateSettings = z.infer<typeof templateSettingsSchema>;
export type TemplateSettingKey = keyof TemplateSettings;

// ----------------------------------------------------------------------------------------------- repos.yaml

export const reposFileSchema = z
  .object({
    repos: z.array(
      z
        .object({
          name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "invalid repository name"),
          path: nonEmpty,
        })
        .strict(),
    ),
    cache: z.object({ path: nonEmpty }).strict().optional(),
  })
  .strict();
