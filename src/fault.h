/*
 * Names of the faults (enum wsg_fault, types.h) for logs, stats and
 * metrics: the QName the fault carries, so that a log line names what the
 * client was told. Kept apart from soap.c, which builds the fault
 * messages, so that logging needs no SOAP parser.
 */
#ifndef WSG_FAULT_H
#define WSG_FAULT_H

#include "types.h"

/* Static name of a fault, e.g. "wsse:FailedAuthentication"; "-" for none
 * and for a value out of range. */
const char *wsg_fault_name(enum wsg_fault fault);

#endif
