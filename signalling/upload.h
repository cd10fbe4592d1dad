/* upload.h — resumable chunked upload of lesson clips and library documents over HTTP (media.c routes
 * /media/uploads… here).
 *
 * Owns, for a user signed in with "Authorization: Bearer <session token>" (never a token in the URL):
 *   POST   /media/uploads        {"title","size","kind"?} → 201 {"id","offset":0,"size"}: an upload session
 *                                of a clip (kind "clip", the default) or a document (kind "file"); the
 *                                declared size is checked against upload-max-bytes, or file-max-bytes for
 *                                a document (413 too_large), and counted at once against user-quota-bytes
 *                                (507 quota_exceeded);
 *   PUT    /media/uploads/<id>   one chunk, "Content-Range: bytes first-last/size": first must be what is
 *                                stored (409 wrong_offset, with the stored "offset"), written to
 *                                <media-dir>/<id>.part on libuv's thread pool with the socket paused while
 *                                the disk works; 200 {"offset"} — the last chunk is checked before the
 *                                answer, a clip by probe.h, a document by docprobe.h (both on the thread
 *                                pool): 200 {"media":{…}} ready, or 415 not_video / 422 broken_video (clip),
 *                                415 wrong_type / 422 broken_file (document), and the upload is deleted;
 *   HEAD   /media/uploads/<id>   Upload-Offset and Upload-Length headers (GET: the same as JSON): where a
 *                                broken upload resumes (the partial file's size: the disk is the truth);
 *   DELETE /media/uploads/<id>   abandons it.
 * One chunk at a time per upload on this node (409 busy). An upload without a chunk for upload-expiry
 * seconds is deleted with its file by a sweeper (every node sweeps; deletions are idempotent).
 * Must not: list or serve anything (media.c shows only state 'ready' items).
 */
#ifndef STAFFROOM_UPLOAD_H
#define STAFFROOM_UPLOAD_H

#include <uv.h>

#include "ws.h"

/* Handles a request under /media/uploads; rest is the path after that prefix ("" or "/<id>"). */
void upload_route(ws_http_req_t *req, const char *rest);
/* The sweeper of abandoned uploads. 0 or -1. */
int upload_start(uv_loop_t *loop);
void upload_stop(void);

#endif
