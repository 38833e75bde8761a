import { AGENT_PORT_NAME } from "./delivery.js";

/** QEMU's option syntax doubles commas inside values. */
function optValue(v: string): string {
  return v.replace(/,/g, ",,");
}

/**
 * The agent's virtio-serial port, backed by a unix socket QEMU listens on (the host side connects to it,
 * any number of times; wait=off so QEMU starts without a client).
 */
export function agentQemuArgs(socketPath: string, id = "pcocc-agent0"): string[] {
  return [
    "-chardev",
    `socket,id=${id},path=${optValue(socketPath)},server=on,wait=off`,
    "-device",
    `virtio-serial-pci,id=${id}-bus`,
    "-device",
    `virtserialport,bus=${id}-bus.0,chardev=${id},name=${AGENT_PORT_NAME}`,
  ];
}
