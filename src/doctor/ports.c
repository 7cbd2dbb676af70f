/* Chromium's restricted ports, checked against Chromium 156 by trying a WebSocket to every port
 * from 1 to 65535 (4190 and 6679, restricted in some other browsers, are allowed there);
 * tests/browser/doctor.test.mjs compares a sample with the browser. */
#include "doctor/ports.h"

#include <stddef.h>

static const struct {
    int port;
    const char *name;
} unsafe[] = {
    {1, "tcpmux"},
    {7, "echo"},
    {9, "discard"},
    {11, "systat"},
    {13, "daytime"},
    {15, "netstat"},
    {17, "qotd"},
    {19, "chargen"},
    {20, "FTP data"},
    {21, "FTP"},
    {22, "SSH"},
    {23, "telnet"},
    {25, "SMTP"},
    {37, "time"},
    {42, "name"},
    {43, "nicname"},
    {53, "DNS"},
    {69, "TFTP"},
    {77, "priv-rjs"},
    {79, "finger"},
    {87, "ttylink"},
    {95, "supdup"},
    {101, "hostname"},
    {102, "iso-tsap"},
    {103, "gppitnp"},
    {104, "acr-nema"},
    {109, "POP2"},
    {110, "POP3"},
    {111, "sunrpc"},
    {113, "auth"},
    {115, "SFTP"},
    {117, "uucp-path"},
    {119, "NNTP"},
    {123, "NTP"},
    {135, "epmap"},
    {137, "NetBIOS"},
    {139, "NetBIOS"},
    {143, "IMAP"},
    {161, "SNMP"},
    {179, "BGP"},
    {389, "LDAP"},
    {427, "SLP"},
    {465, "SMTP over TLS"},
    {512, "exec"},
    {513, "login"},
    {514, "shell"},
    {515, "printer"},
    {526, "tempo"},
    {530, "courier"},
    {531, "chat"},
    {532, "netnews"},
    {540, "uucp"},
    {548, "AFP"},
    {554, "RTSP"},
    {556, "remotefs"},
    {563, "NNTP over TLS"},
    {587, "SMTP submission"},
    {601, "syslog"},
    {636, "LDAP over TLS"},
    {989, "FTPS data"},
    {990, "FTPS"},
    {993, "IMAP over TLS"},
    {995, "POP3 over TLS"},
    {1719, "H.323"},
    {1720, "H.323"},
    {1723, "PPTP"},
    {2049, "NFS"},
    {3659, "apple-sasl"},
    {4045, "lockd"},
    {5060, "SIP"},
    {5061, "SIP over TLS"},
    {6000, "X11"},
    {6566, "SANE"},
    {6665, "IRC"},
    {6666, "IRC"},
    {6667, "IRC"},
    {6668, "IRC"},
    {6669, "IRC"},
    {6697, "IRC over TLS"},
    {10080, "Amanda"},
};

const char *ports_unsafe_name(int port)
{
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        if (unsafe[i].port == port)
            return unsafe[i].name;
    return NULL;
}

bool ports_unsafe(int port)
{
    return port == 0 || ports_unsafe_name(port) != NULL;
}
