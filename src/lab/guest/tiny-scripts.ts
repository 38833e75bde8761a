/**
 * Scripts of the `tiny` lab guest (busybox init + dropbear, all in the initramfs). They implement a
 * NoCloud SUBSET, not cloud-init: see TINY_NOCLOUD_SUBSET in tiny.ts.
 */

/** Flattens block-style YAML into "path<TAB>value" lines (values escaped for printf %b). */
export const YAML_AWK = `# Flattens block-style YAML (NoCloud meta-data / #cloud-config user-data) into "path<TAB>value" lines,
# e.g. "users.0.ssh_authorized_keys.1<TAB>ssh-ed25519 AAAA...". Values are escaped for printf %b.
function esc(s,   r, i, c) {
  r = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "\\\\") r = r "\\\\\\\\"
    else if (c == "\\n") r = r "\\\\n"
    else if (c == "\\t") r = r "\\\\t"
    else r = r c
  }
  return r
}
function trim(s) { sub(/^[ \\t]+/, "", s); sub(/[ \\t]+$/, "", s); return s }
function unq2(s,   r, i, c, n) {
  r = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "\\\\" && i < length(s)) {
      i++; n = substr(s, i, 1)
      if (n == "n") c = "\\n"; else if (n == "t") c = "\\t"; else c = n
    }
    r = r c
  }
  return r
}
function scalar(s) {
  s = trim(s)
  if (length(s) >= 2 && s ~ /^".*"$/) return unq2(substr(s, 2, length(s) - 2))
  if (length(s) >= 2 && s ~ /^'.*'$/) { s = substr(s, 2, length(s) - 2); gsub(/''/, "'", s); return s }
  sub(/[ \\t]+#.*$/, "", s)
  return s
}
function emit(path, v) { print path "\\t" esc(v) }
function flow(path, s,   inner, n, i, c, cur, q) {
  inner = substr(s, 2, length(s) - 2); n = 0; cur = ""; q = ""
  for (i = 1; i <= length(inner); i++) {
    c = substr(inner, i, 1)
    if (q != "") { if (c == q) q = ""; cur = cur c; continue }
    if (c == "\\"" || c == "'") { q = c; cur = cur c; continue }
    if (c == ",") { emit(path "." n, scalar(cur)); n++; cur = ""; continue }
    cur = cur c
  }
  if (trim(cur) != "") emit(path "." n, scalar(cur))
}
function value(path, v, ind) {
  v = trim(v)
  if (v == "" || v ~ /^#/) { pending = path; pind = ind; return }
  if (v ~ /^[|>][-+0-9]*([ \\t]+#.*)?$/) {
    blk = 1; bpath = path; bpind = ind; bind = -1; bval = ""
    bfold = substr(v, 1, 1) == ">"
    bchomp = v ~ /^.[^ ]*-/ ? "strip" : v ~ /^.[^ ]*\\+/ ? "keep" : "clip"
    return
  }
  if (v ~ /^\\[.*\\]$/) { flow(path, v); return }
  hpath = path; hraw = v; hind = ind
}
function unclosed(s) {
  if (s ~ /^"/) return !(length(s) >= 2 && s ~ /[^\\\\]"$/)
  if (s ~ /^'/) return !(length(s) >= 2 && s ~ /'$/)
  return 0
}
function flush() { if (hpath != "") emit(hpath, scalar(hraw)); hpath = "" }
function endblock(   v) {
  v = bval
  if (bchomp != "keep") sub(/\\n+$/, "", v)
  if (bchomp == "clip" && v != "") v = v "\\n"
  emit(bpath, v)
  blk = 0
}
function iskey(s) { return s ~ /^[A-Za-z0-9_.\\/-]+:([ \\t]|$)/ }
function handle(c, ind,   p, rest, k, m) {
  if (ctype[d] == "list" && c ~ /^-([ \\t]|$)/) {
    cn[d]++; p = cpath[d] "." cn[d]
    rest = substr(c, 2); m = match(rest, /[^ ]/) ? RSTART - 1 : length(rest); rest = substr(rest, m + 1)
    if (rest == "") { pending = p; pind = ind; return }
    if (rest ~ /^-([ \\t]|$)/) { d++; cind[d] = ind + 1 + m; cpath[d] = p; ctype[d] = "list"; cn[d] = -1; handle(rest, cind[d]); return }
    if (iskey(rest)) { d++; cind[d] = ind + 1 + m; cpath[d] = p; ctype[d] = "map"; handle(rest, cind[d]); return }
    value(p, rest, ind)
    return
  }
  if (ctype[d] == "map" && iskey(c)) {
    k = c; sub(/:.*$/, "", k)
    rest = c; sub(/^[^:]*:/, "", rest)
    value(cpath[d] == "" ? k : cpath[d] "." k, rest, ind)
  }
}
BEGIN { d = 0; cind[0] = 0; cpath[0] = ""; ctype[0] = "map"; pending = ""; blk = 0; hpath = "" }
{
  line = $0; sub(/\\r$/, "", line)
  if (blk) {
    if (line ~ /^[ \\t]*$/) { bval = bval "\\n"; next }
    li = match(line, /[^ ]/) - 1
    if (li > bpind) {
      if (bind < 0) bind = li
      if (bfold && bval != "" && bval !~ /\\n$/) bval = bval " "
      bval = bval substr(line, bind + 1)
      if (!bfold) bval = bval "\\n"
      next
    }
    if (bfold && bval != "") bval = bval "\\n"
    endblock()
  }
  if (line ~ /^[ \\t]*(#.*)?$/ || line ~ /^(---|\\.\\.\\.)/) next
  ind = match(line, /[^ ]/) - 1; c = substr(line, ind + 1)
  # A multi-line scalar (plain, or quoted and still open) continues on more indented lines.
  if (hpath != "") {
    if (ind > hind && (unclosed(hraw) || (c !~ /^-([ \\t]|$)/ && !iskey(c)))) {
      if (hraw ~ /^"/ && hraw ~ /\\\\$/) hraw = substr(hraw, 1, length(hraw) - 1) c
      else hraw = hraw " " c
      next
    }
    flush()
  }
  if (pending != "" && ind > pind && c !~ /^-([ \\t]|$)/ && !iskey(c)) {
    value(pending, c, pind); pending = ""; next
  }
  if (pending != "") {
    if (ind > pind || (ind == pind && c ~ /^-([ \\t]|$)/)) {
      d++; cind[d] = ind; cpath[d] = pending; ctype[d] = c ~ /^-([ \\t]|$)/ ? "list" : "map"; cn[d] = -1
    } else emit(pending, "")
    pending = ""
  }
  while (d > 0 && (cind[d] > ind || (cind[d] == ind && ctype[d] == "list" && c !~ /^-([ \\t]|$)/))) d--
  handle(c, ind)
}
END { flush(); if (blk) { if (bfold && bval != "") bval = bval "\\n"; endblock() } if (pending != "") emit(pending, "") }
`;

/** busybox udhcpc hook. */
export const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc hook: address, default route (first NIC that offers one) and DNS.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast "$broadcast"} dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    # busybox ip does not filter "route show default": look for the default route in the full table
    if [ -n "$router" ] && ! ip route | grep -q "^default "; then
      ip route add default via "\${router%% *}" dev "$interface"
    fi
    if [ -n "$dns" ] && ! grep -q nameserver /etc/resolv.conf 2>/dev/null; then
      { [ -n "$domain" ] && echo "search $domain"; for s in $dns; do echo "nameserver $s"; done; } >/etc/resolv.conf
    fi
    ;;
esac
exit 0
`;

/** Run by busybox init as sysinit: modules, seed, users, files, DHCP, dropbear, runcmd, ready line. */
export const TINY_BOOT_SCRIPT = `#!/bin/sh
# pcocc lab tiny guest: a NoCloud SUBSET reader, not cloud-init (see TINY_NOCLOUD_SUBSET).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /var/run /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
while read -r m; do insmod "/lib/modules/$m" || echo "pcocc-tiny: cannot load $m"; done </etc/modules.order
sysctl -q -w net.ipv4.ping_group_range="0 2147483647"
ip link set lo up
hostname localhost

S=/run/pcocc-nocloud
mkdir -p $S /run/seed
# the user-data may hold secrets (the cluster facts' shared secret): root's alone, as with cloud-init
chmod 700 $S
tab=$(printf '\\t')

# Seed: a volume labelled cidata (ISO 9660 or VFAT), wherever the VM helper attached it.
dev=
i=0
while [ $i -lt 60 ]; do
  dev=$(findfs LABEL=cidata 2>/dev/null || findfs LABEL=CIDATA 2>/dev/null) && break
  dev=
  i=$((i + 1))
  sleep 0.05
done
if [ -n "$dev" ]; then
  mount -o ro,mode=0400,dmode=0500 -t iso9660 "$dev" /run/seed 2>/dev/null || mount -o ro,umask=077 -t vfat "$dev" /run/seed || echo "pcocc-tiny: cannot mount seed $dev"
else
  echo "pcocc-tiny: no cidata seed found"
fi
: >$S/meta
: >$S/user
[ -f /run/seed/meta-data ] && awk -f /etc/pcocc/yaml.awk /run/seed/meta-data >$S/meta
if [ -f /run/seed/user-data ]; then
  case "$(head -n 1 /run/seed/user-data)" in
    "#cloud-config"*) awk -f /etc/pcocc/yaml.awk /run/seed/user-data >$S/user ;;
    "#!"*) cp /run/seed/user-data $S/user-script && chmod 700 $S/user-script ;;
  esac
fi

# val FILE KEY: the decoded value; fails when the key is absent.
val() { awk -F"$tab" -v k="$2" '$1 == k { print $2; f = 1; exit } END { exit !f }' "$1"; }
# items FILE PREFIX: the list indexes under PREFIX (e.g. "users").
items() {
  awk -F"$tab" -v p="$2." 'index($1, p) == 1 { r = substr($1, length(p) + 1); sub(/\\..*/, "", r); if (r ~ /^[0-9]+$/ && !(r in s)) { s[r] = 1; print r } }' "$1"
}
decode() { printf '%b' "$1"; }
# shell-quotes each argument (runcmd entries given as lists are argv)
quote() { for a in "$@"; do printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\\\\\''/g")"; done; }
commands() { # FILE KEY -> a shell script on stdout
  local f=$1 key=$2 n m line
  for n in $(items "$f" "$key"); do
    if line=$(val "$f" "$key.$n"); then
      decode "$line"
    else
      set --
      for m in $(items "$f" "$key.$n"); do set -- "$@" "$(decode "$(val "$f" "$key.$n.$m")")"; done
      quote "$@"
    fi
    echo
  done
}

hn=$(val $S/meta local-hostname || val $S/user hostname || echo localhost)
hn=$(decode "$hn")
iid=$(decode "$(val $S/meta instance-id || echo none)")
hostname "$hn"
echo "$hn" >/etc/hostname
echo "127.0.1.1 $hn" >>/etc/hosts
echo "$iid" >/run/instance-id

commands $S/user bootcmd >$S/bootcmd.sh
sh $S/bootcmd.sh

# Users: "default" is debian (uid 1000) and receives the top-level ssh_authorized_keys.
next_uid=1000
add_user() {
  grep -q "^$1:" /etc/passwd && return 0
  echo "$1:x:$next_uid:$next_uid::/home/$1:/bin/sh" >>/etc/passwd
  echo "$1:*:19000:0:99999:7:::" >>/etc/shadow
  echo "$1:x:$next_uid:" >>/etc/group
  mkdir -p "/home/$1/.ssh"
  chown -R "$next_uid:$next_uid" "/home/$1"
  chmod 755 "/home/$1"
  chmod 700 "/home/$1/.ssh"
  next_uid=$((next_uid + 1))
}
add_key() {
  printf '%s\\n' "$2" >>"/home/$1/.ssh/authorized_keys"
  chown "$1:$1" "/home/$1/.ssh/authorized_keys"
  chmod 600 "/home/$1/.ssh/authorized_keys"
}
default_user() {
  add_user debian
  for k in $(items $S/user ssh_authorized_keys); do add_key debian "$(decode "$(val $S/user ssh_authorized_keys.$k)")"; done
}
grep -q "^users[.$tab]" $S/user || default_user
for n in $(items $S/user users); do
  if name=$(val $S/user users.$n.name); then
    name=$(decode "$name")
    add_user "$name"
    for key in ssh_authorized_keys ssh-authorized-keys; do
      for k in $(items $S/user users.$n.$key); do add_key "$name" "$(decode "$(val $S/user users.$n.$key.$k)")"; done
    done
  elif [ "$(val $S/user users.$n)" = default ]; then
    default_user
  fi
done

for n in $(items $S/user write_files); do
  path=$(decode "$(val $S/user write_files.$n.path)") || continue
  [ -n "$path" ] || continue
  mkdir -p "$(dirname "$path")"
  content=$(val $S/user write_files.$n.content)
  redirect=">"
  [ "$(val $S/user write_files.$n.append)" = true ] && redirect=">>"
  case "$(val $S/user write_files.$n.encoding)" in
    b64 | base64) decode "$content" | base64 -d >$S/wf ;;
    *) decode "$content" >$S/wf ;;
  esac
  if [ "$redirect" = ">>" ]; then cat $S/wf >>"$path"; else cat $S/wf >"$path"; fi
  perm=$(val $S/user write_files.$n.permissions) && chmod "$perm" "$path"
  owner=$(val $S/user write_files.$n.owner) && chown "$(decode "$owner")" "$path"
done

# Optional data disk (the tiny template's image): mounted on /data so saved revisions have something to hold.
data=$(findfs LABEL=pcocc-tiny 2>/dev/null) && mkdir -p /data && mount -t ext4 "$data" /data

# DHCP on every NIC at once; a NIC without a DHCP server costs at most ~5 s, then udhcpc keeps trying.
for nic in /sys/class/net/*; do
  nic=\${nic##*/}
  [ "$nic" = lo ] && continue
  udhcpc -i "$nic" -b -t 5 -T 1 -A 3 -s /etc/pcocc/udhcpc.script -x hostname:"$hn" >/dev/null 2>&1 &
done
wait

mkdir -p /etc/dropbear
dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
dropbear -s -r /etc/dropbear/dropbear_ed25519_host_key -p 22

commands $S/user runcmd >$S/runcmd.sh
sh $S/runcmd.sh
[ -x $S/user-script ] && $S/user-script

# cloud-init's "boot finished" marker, which readiness checks (cloud-init) look for
mkdir -p /var/lib/cloud/instance && date >/var/lib/cloud/instance/boot-finished
printf '\\npcocc-guest: ready hostname=%s\\n' "$(hostname)"
`;

export const TINY_INITTAB = `::sysinit:/bin/busybox sh /etc/pcocc/boot.sh
ttyS0::respawn:/bin/busybox getty -L 115200 ttyS0 vt100
::ctrlaltdel:/bin/busybox reboot
::shutdown:/bin/busybox umount -a -r
`;
