/* main.c — relink-guest: one static multi-call binary (rlog, linkwatch, pinger) to keep the initramfs small. */
#include <stdio.h>
#include <string.h>

#include "rlog.h"

static const struct applet {
        const char *name;
        int (*run)(int argc, char **argv);
} applets[] = {
        { "rlog",      rlog_main },
        { "linkwatch", linkwatch_main },
        { "pinger",    pinger_main },
};

int main(int argc, char **argv) {
        const char *base = strrchr(argv[0], '/');

        base = base ? base + 1 : argv[0];
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
                        if (strcmp(base, applets[i].name) == 0)
                                return applets[i].run(argc, argv);
                if (argc < 2)
                        break;
                argc--, argv++;         /* "relink-guest APPLET args…" */
                base = argv[0];
        }
        fprintf(stderr, "usage: relink-guest rlog|linkwatch|pinger ...\n");
        return 2;
}
