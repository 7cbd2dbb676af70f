/* The subcommands of the wssgate binary; each returns the process exit status. */
#ifndef WSSGATE_CLI_CMD_H
#define WSSGATE_CLI_CMD_H

int cmd_proxy(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
