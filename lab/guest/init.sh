#!/bin/busybox sh
# pifio guest /init (busybox). Mounts, loads modules, maps NVMe namespaces by
# nsid, runs /pifio/scenario.sh in /results, writes the results as a tar
# stream to the results disk (/dev/vda), powers off. Console markers
# (PIFIO-…) let the host follow along and recover the exit code when the
# results disk is unusable.
/bin/busybox --install -s
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/cryptsetup /results
echo "PIFIO-INIT uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"

. /pifio/env.sh

while read -r m; do
    [ -n "$m" ] || continue
    insmod "$m" || echo "PIFIO-WARN insmod $m failed"
done < /pifio/modules.list

# Namespaces: wait until every expected nsid shows up in /sys/block (names are
# assigned asynchronously on new kernels: never trust nvme0nN to be nsid N).
want=${PIFIO_NS_COUNT:-0}
i=0
while :; do
    n=0
    for d in /sys/block/nvme*n*; do
        [ -e "$d/nsid" ] && n=$((n + 1))
    done
    [ "$n" -ge "$want" ] && break
    i=$((i + 1))
    if [ $i -ge 300 ]; then
        echo "PIFIO-WARN only $n of $want namespaces after 30 s"
        break
    fi
    sleep 0.1
done
: > /pifio/ns.env
printf 'nsid\tblock\tchar\tsectors\tlogical_block_size\tintegrity_format\ttag_size\n' > /results/namespaces.tsv
for d in /sys/block/nvme*n*; do
    [ -e "$d/nsid" ] || continue
    name=${d##*/}
    nsid=$(cat "$d/nsid")
    ng=/dev/ng${name#nvme}
    fmt=$(cat "$d/integrity/format" 2>/dev/null || echo none)
    tag=$(cat "$d/integrity/tag_size" 2>/dev/null || echo 0)
    echo "export PIFIO_BLK_$nsid=/dev/$name PIFIO_NG_$nsid=$ng" >> /pifio/ns.env
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$nsid" "/dev/$name" "$ng" "$(cat "$d/size")" \
        "$(cat "$d/queue/logical_block_size")" "$fmt" "$tag" >> /results/namespaces.tsv
done
. /pifio/ns.env
echo "PIFIO-READY uptime=$(cut -d' ' -f1 /proc/uptime)"

cd /results
if [ -n "$PIFIO_GUEST_TIMEOUT" ]; then
    ( timeout -s KILL "$PIFIO_GUEST_TIMEOUT" sh /pifio/scenario.sh; echo $? > /tmp/rc ) 2>&1 | tee /results/scenario.log
else
    ( sh /pifio/scenario.sh; echo $? > /tmp/rc ) 2>&1 | tee /results/scenario.log
fi
rc=$(cat /tmp/rc 2>/dev/null || echo 255)
cd /
echo "PIFIO-RC $rc uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "$rc" > /results/rc
dmesg > /results/dmesg.txt
cat /proc/uptime > /results/uptime
if [ -b /dev/vda ]; then
    tar -cf /dev/vda -C /results . && echo "PIFIO-RESULTS tar ok" || echo "PIFIO-RESULTS tar failed"
else
    echo "PIFIO-RESULTS no results disk (/dev/vda missing)"
fi
sync
echo "PIFIO-DONE"
poweroff -f
