/* linkwatch.c — print one line per rtnetlink link message (RTNLGRP_LINK), the signal real network stacks watch.
 *
 *   NEW <ifindex> <ifname> <mac> <admin_up 0|1> <carrier 0|1> <operstate>
 *   DEL <ifindex> <ifname> <mac>
 *   SYNC                           (after the initial dump of existing links)
 *
 * carrier is IFF_LOWER_UP, which the kernel reports only while the link is admin-up. Only Ethernet links are
 * printed. Each line is written with one write() (< PIPE_BUF, so atomic on a FIFO shared with other writers).
 */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlog.h"

static const char *const operstates[] = {
        "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up",
};

static int out_line(const char *line) {
        size_t len = strlen(line);

        while (write(STDOUT_FILENO, line, len) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

static void print_link(const struct nlmsghdr *h) {
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        int len = (int) h->nlmsg_len - (int) NLMSG_LENGTH(sizeof(*ifi));
        char name[IFNAMSIZ] = "?", mac[18] = "00:00:00:00:00:00", line[256];
        unsigned oper = 0;

        if (len < 0 || ifi->ifi_type != ARPHRD_ETHER)
                return;
        for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                switch (a->rta_type) {
                case IFLA_IFNAME:
                        snprintf(name, sizeof(name), "%s", (const char *) RTA_DATA(a));
                        break;
                case IFLA_ADDRESS:
                        if (RTA_PAYLOAD(a) == 6) {
                                const unsigned char *m = RTA_DATA(a);
                                snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
                                         m[0], m[1], m[2], m[3], m[4], m[5]);
                        }
                        break;
                case IFLA_OPERSTATE:
                        oper = *(const unsigned char *) RTA_DATA(a);
                        break;
                }
        }
        if (h->nlmsg_type == RTM_DELLINK)
                snprintf(line, sizeof(line), "DEL %d %s %s\n", ifi->ifi_index, name, mac);
        else
                snprintf(line, sizeof(line), "NEW %d %s %s %d %d %s\n", ifi->ifi_index, name, mac,
                         !!(ifi->ifi_flags & IFF_UP), !!(ifi->ifi_flags & IFF_LOWER_UP),
                         oper < sizeof(operstates) / sizeof(operstates[0]) ? operstates[oper] : "unknown");
        out_line(line);
}

static int request_dump(int fd) {
        struct {
                struct nlmsghdr h;
                struct ifinfomsg ifi;
        } req = {
                .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
                       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
                .ifi = { .ifi_family = AF_UNSPEC },
        };

        return send(fd, &req, sizeof(req), 0) < 0 ? -errno : 0;
}

int linkwatch_main(int argc, char **argv) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
        static char buf[64 * 1024];
        int fd, rcvbuf = 1 << 20;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("linkwatch: netlink");
                return 1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (request_dump(fd) < 0) {
                perror("linkwatch: dump");
                return 1;
        }
        for (;;) {
                int n = (int) recv(fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ENOBUFS) {         /* lost events: re-dump, the reader acts on transitions */
                                request_dump(fd);
                                continue;
                        }
                        perror("linkwatch: recv");
                        return 1;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                out_line("SYNC\n");
                        else if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
                                print_link(h);
                }
        }
}
