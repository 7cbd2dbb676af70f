/* The subcommands of the wssgate binary; each returns the process exit status. */
#ifndef WSSGATE_CLI_CMD_H
#define WSSGATE_CLI_CMD_H

int cmd_proxy(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* `wssgate cert NAME...`, `--install`, `--uninstall`, `--show`: 0 done, 1 failed, 2 usage. */
int cmd_cert(int argc, char **argv);
/* `wssgate doctor URL ...`: 0 the WebSocket works, 1 it does not, 2 usage. */
int cmd_doctor(int argc, char **argv);

#endif
