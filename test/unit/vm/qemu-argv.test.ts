import { describe, expect, it } from "vitest";
import { agentPortArgs, buildQemuArgv, type QemuPlan } from "../../../src/vm/qemu-argv.js";

const base: QemuPlan = {
  binary: "qemu-system-x86_64",
  name: "vm0",
  accel: "tcg",
  machine: "q35",
  memoryMiB: 512,
  vcpus: 2,
  disk: { path: "/run/vm0/image_snapshot", model: "virtio", cache: "unsafe" },
  seedPath: "/run/vm0/cloud_seed",
  nics: [],
  mounts: [],
  controlQmpSocket: "/run/vm0/hv",
  qmpSocket: "/run/vm0/monitor_socket",
  serialSocket: "/run/vm0/serial",
  customArgs: [],
};

/** The value following `opt` each time it occurs. */
function values(argv: string[], opt: string): string[] {
  return argv.flatMap((a, i) => (a === opt ? [argv[i + 1] as string] : []));
}

describe("buildQemuArgv", () => {
  it("starts paused on TCG with explicit block nodes, monitors, serial socket and seed", () => {
    const argv = buildQemuArgv(base);
    expect(argv[0]).toBe("qemu-system-x86_64");
    expect(argv).toContain("-S");
    expect(values(argv, "-accel")).toEqual(["tcg,tb-size=64"]);
    expect(values(argv, "-cpu")).toEqual([]);
    expect(values(argv, "-machine")).toEqual(["type=q35"]);
    expect(values(argv, "-m")).toEqual(["512M"]);
    expect(values(argv, "-smp")[0]).toMatch(/^2,/);
    const blockdevs = values(argv, "-blockdev");
    expect(blockdevs[0]).toContain("driver=file,node-name=drive0-file,filename=/run/vm0/image_snapshot");
    expect(blockdevs[0]).toContain("cache.no-flush=on");
    expect(blockdevs[1]).toMatch(/^driver=qcow2,node-name=drive0,file=drive0-file/);
    expect(
      blockdevs.some((b) => b.includes("filename=/run/vm0/cloud_seed") && b.includes("read-only=on")),
    ).toBe(true);
    expect(values(argv, "-device")).toContain(
      "virtio-blk-pci,id=vblk-drive0,drive=drive0,bootindex=1,write-cache=on",
    );
    expect(values(argv, "-qmp")).toEqual([
      "unix:/run/vm0/hv,server=on,wait=off",
      "unix:/run/vm0/monitor_socket,server=on,wait=off",
    ]);
    expect(values(argv, "-chardev")).toContain("socket,id=serial0,path=/run/vm0/serial,server=on,wait=off");
    expect(values(argv, "-boot")).toEqual(["order=cd"]);
  });

  it("uses KVM with the host CPU unless a model is given", () => {
    expect(values(buildQemuArgv({ ...base, accel: "kvm" }), "-cpu")).toEqual(["host"]);
    const argv = buildQemuArgv({ ...base, accel: "kvm", cpuModel: "Skylake-Server" });
    expect(values(argv, "-accel")).toEqual(["kvm"]);
    expect(values(argv, "-cpu")).toEqual(["Skylake-Server"]);
  });

  it("maps disk models and cache modes like pcocc", () => {
    const scsi = buildQemuArgv({
      ...base,
      disk: { path: "/d", model: "virtio-scsi", cache: "writethrough" },
    });
    expect(values(scsi, "-device")).toContain("virtio-scsi-pci,id=scsi0");
    expect(values(scsi, "-device").find((d) => d.startsWith("scsi-hd"))).toContain("write-cache=off");
    const ide = buildQemuArgv({ ...base, disk: { path: "/d", model: "ide", cache: "none" } });
    expect(values(ide, "-device").find((d) => d.startsWith("ide-hd"))).toContain("bus=ahci.0");
    expect(values(ide, "-blockdev")[0]).toContain("cache.direct=on");
    expect(() =>
      buildQemuArgv({ ...base, disk: { path: "/d", model: "floppy" as never, cache: "none" } }),
    ).toThrow(/Unknown block device model/);
  });

  it("attaches tap NICs with checksum offload off unless asked, and vhost when usable", () => {
    const argv = buildQemuArgv({
      ...base,
      vhostNet: true,
      nics: [
        { tap: "pcocctap0", mac: "52:54:00:00:00:01" },
        { tap: "pcocctap1", mac: "52:54:00:00:00:02", model: "e1000" },
        { tap: "pcocctap2", mac: "52:54:00:00:00:03", csumOffload: true },
      ],
    });
    expect(values(argv, "-netdev")[0]).toBe("tap,id=net0,ifname=pcocctap0,script=no,downscript=no,vhost=on");
    const devs = values(argv, "-device");
    expect(devs).toContain("virtio-net,id=nic0,netdev=net0,mac=52:54:00:00:00:01,csum=off");
    expect(devs).toContain("e1000,id=nic1,netdev=net1,mac=52:54:00:00:00:02");
    expect(devs).toContain("virtio-net,id=nic2,netdev=net2,mac=52:54:00:00:00:03");
    expect(() => buildQemuArgv({ ...base, nics: [{ tap: "t0", mac: "nope" }] })).toThrow(/invalid MAC/);
    expect(() => buildQemuArgv({ ...base, nics: [{ tap: "a,b", mac: "52:54:00:00:00:01" }] })).toThrow(/tap/);
  });

  it("boots a kernel directly, with custom-args appended last and -append/-boot not duplicated", () => {
    const k = buildQemuArgv({
      ...base,
      kernel: { path: "/k/vmlinux", initrd: "/k/initrd", args: "console=ttyS0 root=/dev/vda" },
      customArgs: ["-append", "console=ttyS0 quiet"],
    });
    expect(values(k, "-kernel")).toEqual(["/k/vmlinux"]);
    expect(values(k, "-initrd")).toEqual(["/k/initrd"]);
    expect(values(k, "-append")).toEqual(["console=ttyS0 quiet"]);
    expect(k.slice(-2)).toEqual(["-append", "console=ttyS0 quiet"]);
    expect(values(k, "-boot")).toEqual([]);
    expect(values(buildQemuArgv({ ...base, customArgs: ["-boot", "order=n"] }), "-boot")).toEqual([
      "order=n",
    ]);
  });

  it("loads a checkpoint from an inherited descriptor, never through a shell command", () => {
    expect(values(buildQemuArgv(base), "-incoming")).toEqual([]);
    expect(values(buildQemuArgv({ ...base, incomingFd: 3 }), "-incoming")).toEqual(["fd:3"]);
  });

  it("shares directories over 9p and virtio-fs, doubling commas in paths", () => {
    const argv = buildQemuArgv({
      ...base,
      disk: { path: "/odd,dir/overlay", model: "virtio", cache: "unsafe" },
      mounts: [
        { tag: "home", path: "/home/u", readonly: true },
        { tag: "scratch", path: "/scratch", type: "virtio-fs", virtiofsSocket: "/run/vm0/virtio_fsd_1" },
      ],
    });
    expect(values(argv, "-blockdev")[0]).toContain("filename=/odd,,dir/overlay");
    expect(values(argv, "-fsdev")).toEqual(["local,id=fs0,path=/home/u,security_model=none,readonly=on"]);
    expect(values(argv, "-device")).toContain("virtio-9p-pci,fsdev=fs0,mount_tag=home");
    expect(values(argv, "-device")).toContain(
      "vhost-user-fs-pci,queue-size=1024,chardev=char_fs_1,tag=scratch",
    );
    expect(values(argv, "-object")).toContain(
      "memory-backend-file,id=mem,size=512M,mem-path=/dev/shm,share=on",
    );
    expect(() =>
      buildQemuArgv({ ...base, mounts: [{ tag: "x", path: "/x", type: "virtio-fs", readonly: true }] }),
    ).toThrow(/Read-only mounts are not supported with virtio-fs/);
  });
  it("gives the VM the guest agent's virtio-serial port, escaping commas in the socket path", () => {
    expect(buildQemuArgv({ ...base, agentSocket: "/run/a,b/agent.sock" })).toEqual(
      expect.arrayContaining(agentPortArgs("/run/a,b/agent.sock")),
    );
    expect(agentPortArgs("/run/a,b/agent.sock")).toEqual([
      "-chardev",
      "socket,id=pcocc-agent0,path=/run/a,,b/agent.sock,server=on,wait=off",
      "-device",
      "virtio-serial-pci,id=pcocc-agent0-bus",
      "-device",
      "virtserialport,bus=pcocc-agent0-bus.0,chardev=pcocc-agent0,name=org.pcocc.agent.0",
    ]);
  });
});

describe("persistent drives", () => {
  const drive = (over: Partial<NonNullable<QemuPlan["persistentDrives"]>[number]> = {}) => ({
    node: "pdrive0",
    path: "/home/u/data,1.raw",
    format: "raw",
    model: "virtio" as const,
    cache: "writeback" as const,
    ...over,
  });

  it("come after the seed, in their own format, with QEMU's image lock on", () => {
    const argv = buildQemuArgv({ ...base, persistentDrives: [drive()] });
    const blockdevs = values(argv, "-blockdev");
    const seed = blockdevs.findIndex((b) => b.includes("node-name=seed-file"));
    const file = blockdevs.findIndex((b) => b.includes("node-name=pdrive0-file"));
    expect(file).toBeGreaterThan(seed);
    expect(blockdevs[file]).toContain("filename=/home/u/data,,1.raw");
    expect(blockdevs[file]).not.toContain("locking=off");
    expect(blockdevs[file + 1]).toMatch(/^driver=raw,node-name=pdrive0,file=pdrive0-file/);
    const dev = values(argv, "-device").find((d) => d.includes("drive=pdrive0"));
    expect(dev).toBe("virtio-blk-pci,id=vblk-pdrive0,drive=pdrive0,write-cache=on");
  });

  it("`mmp: cluster` drops the image lock and shares the device; one scsi controller for every disk", () => {
    const argv = buildQemuArgv({
      ...base,
      disk: { path: "/d", model: "virtio-scsi", cache: "unsafe" },
      persistentDrives: [drive({ model: "virtio-scsi", shared: true, format: "qcow2" })],
    });
    expect(values(argv, "-blockdev").find((b) => b.includes("pdrive0-file"))).toContain("locking=off");
    const devices = values(argv, "-device");
    expect(devices.filter((d) => d.startsWith("virtio-scsi-pci"))).toHaveLength(1);
    expect(devices.find((d) => d.includes("drive=pdrive0"))).toMatch(/scsi-id=1,drive=pdrive0,share-rw=on/);
  });

  it("refuses a format name that could smuggle options", () => {
    expect(() => buildQemuArgv({ ...base, persistentDrives: [drive({ format: "raw,file.x=y" })] })).toThrow(
      /unsupported image format/,
    );
  });
});

describe("remote display", () => {
  it("spice listens on the VM's unix socket only, with a QXL card and the vdagent port", () => {
    const argv = buildQemuArgv({ ...base, spiceSocket: "/run/vm0/spice_socket" });
    expect(values(argv, "-spice")).toEqual(["unix=on,addr=/run/vm0/spice_socket,disable-ticketing=on"]);
    expect(values(argv, "-device")).toContain("qxl-vga,id=video0");
    expect(values(argv, "-chardev")).toContain("spicevmc,id=spicechannel0,name=vdagent");
    expect(values(buildQemuArgv(base), "-spice")).toEqual([]);
  });
});
