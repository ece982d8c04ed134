/* lost_writes_shim.c: an LD_PRELOAD library that records, for every file under a data directory,
 * the content it had at its last fsync, so the lost-writes nemesis can later put each file back
 * to that content: what a power cut leaves of writes that were never fsynced.
 *
 * Built at run time by nemesis/lost_writes.py (gcc -shared -fPIC -O2 ... -ldl). Environment:
 *   SB_LOSTWRITES_DATA    absolute path of the tracked directory (e.g. <node_dir>/data)
 *   SB_LOSTWRITES_SHADOW  absolute path where the durable image is kept (outside DATA)
 * Without both, every call goes straight to libc.
 *
 * The durable image: SHADOW/data/<rel> holds the file's content at its last durability point and
 * SHADOW/ino/<rel> the inode number it was taken from (text).
 *   fsync(fd), fdatasync(fd) on a regular file under DATA: its current content (only the
 *       blocks that differ are rewritten) and inode become the image of that path. As on ext4,
 *       fsync of a new file also makes its name durable.
 *   fsync(fd) on a directory under DATA (or DATA itself): its entries become durable: an entry
 *       whose inode has an image under some name of that directory takes that image (a rename),
 *       an entry whose inode has none gets an empty image (name durable, data not), and images
 *       of names no longer in the directory are dropped (unlink, rename away).
 *   sync(), syncfs(fd): everything under DATA becomes durable.
 * Not modelled (their writes count as not durable): O_SYNC/O_DSYNC opens, msync,
 * sync_file_range, and writes made durable by the kernel's own writeback.
 * A thread killed in the middle of an image update leaves a mix of old and new blocks: a torn
 * write of data whose fsync never returned, which a real disk may also leave.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define INO_TMP ".sblw-ino-tmp"

static char data_root[PATH_MAX];
static size_t data_len;
static char shadow_root[PATH_MAX];
static int enabled;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static void (*real_sync)(void);
static int (*real_syncfs)(int);

__attribute__((constructor)) static void lw_init(void) {
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_sync = dlsym(RTLD_NEXT, "sync");
    real_syncfs = dlsym(RTLD_NEXT, "syncfs");
    const char *d = getenv("SB_LOSTWRITES_DATA"), *s = getenv("SB_LOSTWRITES_SHADOW");
    if (!d || !s || d[0] != '/' || s[0] != '/' || strlen(d) >= PATH_MAX || strlen(s) >= PATH_MAX)
        return;
    strcpy(data_root, d);
    strcpy(shadow_root, s);
    data_len = strlen(data_root);
    while (data_len > 1 && data_root[data_len - 1] == '/') data_root[--data_len] = 0;
    enabled = 1;
}

/* The path below DATA of an absolute path ("" for DATA itself), or NULL when outside. */
static const char *rel_of(const char *path) {
    if (strncmp(path, data_root, data_len) != 0) return NULL;
    if (path[data_len] == 0) return "";
    if (path[data_len] != '/') return NULL;
    return path + data_len + 1;
}

static int mkdirs_for(const char *file) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", file);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    return 0;
}

static void image_path(char *out, const char *kind, const char *rel) {
    snprintf(out, PATH_MAX, "%s/%s/%s", shadow_root, kind, rel);
}

static void write_ino(const char *rel, unsigned long ino) {
    char p[PATH_MAX], tmp[PATH_MAX + 16], text[32];
    image_path(p, "ino", rel);
    if (mkdirs_for(p) != 0) return;
    snprintf(tmp, sizeof tmp, "%s" INO_TMP, p);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    int n = snprintf(text, sizeof text, "%lu\n", ino);
    if (write(fd, text, n) == n) rename(tmp, p);
    close(fd);
}

static unsigned long read_ino(const char *rel) {
    char p[PATH_MAX], text[32] = {0};
    image_path(p, "ino", rel);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    return n > 0 ? strtoul(text, NULL, 10) : 0;
}

/* Make the image at SHADOW/data/dst_rel equal to the content of the open file src_fd. */
static void copy_into_image(int src_fd, const char *dst_rel) {
    char dst[PATH_MAX];
    static char a[1 << 16], b[1 << 16];
    image_path(dst, "data", dst_rel);
    if (mkdirs_for(dst) != 0) return;
    int out = open(dst, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (out < 0) return;
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(src_fd, a, sizeof a, off);
        if (n <= 0) break;
        ssize_t m = pread(out, b, (size_t)n, off);
        if (m != n || memcmp(a, b, (size_t)n) != 0) {
            if (pwrite(out, a, (size_t)n, off) != n) break;
        }
        off += n;
    }
    if (ftruncate(out, off) != 0) { /* the image keeps its old length: reported by restore */ }
    close(out);
}

static void image_file(int fd, const char *rel, const struct stat *st) {
    copy_into_image(fd, rel);
    write_ino(rel, (unsigned long)st->st_ino);
}

static void unlink_image(const char *rel) {
    char p[PATH_MAX];
    image_path(p, "data", rel);
    unlink(p);
    image_path(p, "ino", rel);
    unlink(p);
}

static void join(char *out, const char *dir_rel, const char *name) {
    if (dir_rel[0]) snprintf(out, PATH_MAX, "%s/%s", dir_rel, name);
    else snprintf(out, PATH_MAX, "%s", name);
}

/* A directory's entries become durable (see the header). */
static void image_dir(const char *dir_abs, const char *dir_rel) {
    enum { MAXE = 4096 };
    static char names[MAXE][256];
    static unsigned long inos[MAXE];
    static char old_names[MAXE][256];
    static unsigned long old_inos[MAXE];
    int n = 0, m = 0;
    char p[PATH_MAX], rel[PATH_MAX];
    DIR *d = opendir(dir_abs);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAXE) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir_abs, e->d_name);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || strlen(e->d_name) >= 256) continue;
        strcpy(names[n], e->d_name);
        inos[n++] = (unsigned long)st.st_ino;
    }
    closedir(d);
    image_path(p, "ino", dir_rel);
    d = opendir(p);
    if (d) {
        while ((e = readdir(d)) && m < MAXE) {
            size_t len = strlen(e->d_name), tl = strlen(INO_TMP);
            if (e->d_type == DT_DIR || len >= 256 || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")
                || (len > tl && !strcmp(e->d_name + len - tl, INO_TMP)))
                continue;
            strcpy(old_names[m], e->d_name);
            join(rel, dir_rel, e->d_name);
            old_inos[m++] = read_ino(rel);
        }
        closedir(d);
    }
    /* Stage the new image of every entry, then drop stale names, then move staged ones in. */
    int staged[MAXE];
    for (int i = 0; i < n; i++) {
        staged[i] = 0;
        int src = -1;
        for (int j = 0; j < m; j++)
            if (old_inos[j] == inos[i]) { src = j; if (!strcmp(old_names[j], names[i])) break; }
        if (src >= 0 && !strcmp(old_names[src], names[i])) continue; /* unchanged */
        char tmp_rel[PATH_MAX];
        snprintf(tmp_rel, sizeof tmp_rel, "%s%s.sblw-stage-%d", dir_rel, dir_rel[0] ? "/" : "", i);
        if (src >= 0) {
            join(rel, dir_rel, old_names[src]);
            image_path(p, "data", rel);
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            copy_into_image(fd, tmp_rel);
            close(fd);
        } else {
            char t[PATH_MAX];
            image_path(t, "data", tmp_rel);
            if (mkdirs_for(t) != 0) continue;
            int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0) continue;
            close(fd);
        }
        staged[i] = 1;
    }
    for (int j = 0; j < m; j++) {
        int keep = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(old_names[j], names[i]) && !staged[i] && old_inos[j] == inos[i]) keep = 1;
        if (!keep) { join(rel, dir_rel, old_names[j]); unlink_image(rel); }
    }
    for (int i = 0; i < n; i++) {
        if (!staged[i]) continue;
        char tmp_rel[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
        snprintf(tmp_rel, sizeof tmp_rel, "%s%s.sblw-stage-%d", dir_rel, dir_rel[0] ? "/" : "", i);
        join(rel, dir_rel, names[i]);
        image_path(a, "data", tmp_rel);
        image_path(b, "data", rel);
        rename(a, b);
        write_ino(rel, inos[i]);
    }
}

static void image_tree(const char *dir_abs, const char *dir_rel, int depth) {
    char p[PATH_MAX], rel[PATH_MAX];
    DIR *d = opendir(dir_abs);
    if (!d || depth > 16) { if (d) closedir(d); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir_abs, e->d_name);
        join(rel, dir_rel, e->d_name);
        if (lstat(p, &st) != 0) continue;
        if (S_ISREG(st.st_mode)) {
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) { image_file(fd, rel, &st); close(fd); }
        } else if (S_ISDIR(st.st_mode)) {
            image_tree(p, rel, depth + 1);
        }
    }
    closedir(d);
    image_dir(dir_abs, dir_rel);
}

/* After a successful fsync/fdatasync of fd: update the image when fd is under DATA. */
static void durable(int fd) {
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    const char *rel = rel_of(path);
    if (!rel) return;
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    int saved = errno;
    pthread_mutex_lock(&mu);
    if (S_ISREG(st.st_mode) && rel[0]) {
        /* fd may be write-only (O_APPEND logs): read the file through a fresh descriptor. */
        int rfd = open(link, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0) { image_file(rfd, rel, &st); close(rfd); }
    }
    else if (S_ISDIR(st.st_mode)) image_dir(path, rel);
    pthread_mutex_unlock(&mu);
    errno = saved;
}

int fsync(int fd) {
    int r = real_fsync(fd);
    if (r == 0 && enabled) durable(fd);
    return r;
}

int fdatasync(int fd) {
    int r = real_fdatasync(fd);
    if (r == 0 && enabled) durable(fd);
    return r;
}

static void durable_all(void) {
    pthread_mutex_lock(&mu);
    image_tree(data_root, "", 0);
    pthread_mutex_unlock(&mu);
}

void sync(void) {
    real_sync();
    if (enabled) durable_all();
}

int syncfs(int fd) {
    int r = real_syncfs(fd);
    if (r == 0 && enabled) durable_all();
    return r;
}
