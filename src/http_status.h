/* HTTP status lines shared by the data-plane and management listeners. */
#ifndef WSG_HTTP_STATUS_H
#define WSG_HTTP_STATUS_H

/* Static reason phrase for `status`, e.g. "Not Found"; "Status" if unknown. */
const char *wsg_http_status_phrase(int status);

#endif
