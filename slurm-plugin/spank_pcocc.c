/*
 * spank_pcocc — SLURM SPANK plugin for pcocc.
 *
 * Registers `--vm=<resource definition>`. The first `--vm` step of a job runs, on each of its nodes and as
 * root, `<pcocc> internal setup init` then `<pcocc> internal setup create`; the end of that step runs
 * `<pcocc> internal setup delete`. Everything that reaches root from the user (the option value, the
 * credential, SLURM variables from the job environment) is validated here, and the commands are exec'd
 * with an argv and an environment built from scratch: no shell, no inherited variables.
 *
 * A failing setup is undone (`setup delete`) and fails the step on that node: init_post_opt still returns 0
 * (an error there only shows "Plugin initialization failed") and each task then prints the command's output
 * and the reason on the user's stderr and fails, so the user's CLI learns why instead of waiting forever.
 *
 * Plugstack arguments (all optional):
 *   pcocc=/abs/path    pcocc executable (default /usr/bin/pcocc)
 *   path=/a:/b         PATH given to it (default /usr/sbin:/usr/bin:/sbin:/bin; must find `node`)
 *   conf=/abs/dir      exported as PCOCC_SYSTEM_CONF_DIR (default: pcocc's own default, /etc/pcocc)
 *   timeout=SECONDS    limit for each setup command (default 300); the command is killed after it
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/spank.h>

SPANK_PLUGIN(pcocc, 1);

#define RUN_DIR "/run/pcocc"
#define MAX_DEF_LEN 1024
#define MAX_ENV_VALUE 4096
#define MAX_OUTPUT 8192
#define MAX_ENV 24

static char pcocc_bin[PATH_MAX] = "/usr/bin/pcocc";
static char exec_path[PATH_MAX] = "/usr/sbin:/usr/bin:/sbin:/bin";
static char conf_dir[PATH_MAX] = "";
static int cmd_timeout = 300;

static char vm_def[MAX_DEF_LEN + 1];
static int vm_given;
static int vm_invalid;

/* This slurmstepd recorded its step as the job's setup step on this node: it owns the teardown. */
static int setup_owner;
static int deleted;

static int opt_vm(int val, const char *optarg, int remote);

/*
 * slurmstepd fails a step whose init_post_opt fails with only "Plugin initialization failed" on srun (and
 * srun still exits 0), and its own log messages do not reach the user before the step's I/O is set up.
 * So remote failures are collected here, the step goes on, and every task of this node prints them on
 * its stderr (which is the user's srun) and fails in task_init: srun exits non-zero with the reason.
 */
static char failure[MAX_OUTPUT];
static size_t failure_len;
static int collect_failures;
static int setup_failed;

__attribute__((format(printf, 1, 2))) static void report(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    slurm_error("%s", line);
    if (collect_failures) {
        int n = snprintf(failure + failure_len, sizeof(failure) - failure_len, "%s\n", line);
        if (n > 0)
            failure_len = failure_len + (size_t)n < sizeof(failure) ? failure_len + (size_t)n : sizeof(failure) - 1;
    }
}


static struct spank_option vm_option = {
    "vm", "<resource definition>",
    "Set up pcocc host resources (networks, etcd credentials) for this step's VMs; used by pcocc.", 1, 0,
    opt_vm,
};

/* ------------------------------------------------------------------------------------ validation */

/* rset:count[,rset:count]... with rset = [A-Za-z][A-Za-z0-9_-]* and count = 1..999999 */
static int valid_definition(const char *s)
{
    size_t len = strnlen(s, MAX_DEF_LEN + 1);
    if (len == 0 || len > MAX_DEF_LEN)
        return 0;
    const char *p = s;
    for (;;) {
        if (!isalpha((unsigned char)*p))
            return 0;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
            p++;
        if (*p++ != ':')
            return 0;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits++;
        }
        if (digits == 0 || digits > 6)
            return 0;
        if (*p == '\0')
            return 1;
        if (*p++ != ',')
            return 0;
    }
}

static int valid_credential(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return i == 32;
}

/* SLURM host lists: node names, commas, ranges in brackets. */
static int valid_hostlist(const char *s)
{
    if (!*s || strlen(s) >= MAX_ENV_VALUE)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-,[]", *s))
            return 0;
    return 1;
}

/* SLURM_*_TASKS_PER_NODE: "2(x3),1". */
static int valid_tasks_per_node(const char *s)
{
    if (!*s || strlen(s) >= MAX_ENV_VALUE)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !strchr("(x),", *s))
            return 0;
    return 1;
}

static int valid_user(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return n <= 32;
}

/* Absolute, no "..", only ordinary path characters. */
static int valid_abs_path(const char *s)
{
    if (s[0] != '/' || strlen(s) >= PATH_MAX || strstr(s, "/../") || strstr(s, "/./"))
        return 0;
    size_t n = strlen(s);
    if (n >= 3 && strcmp(s + n - 3, "/..") == 0)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("/._+-", *s))
            return 0;
    return 1;
}

static int valid_search_path(const char *s)
{
    char buf[PATH_MAX];
    if (strlen(s) >= sizeof(buf))
        return 0;
    strcpy(buf, s);
    char *save = NULL;
    int count = 0;
    for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save), count++)
        if (!valid_abs_path(dir))
            return 0;
    return count > 0 && s[0] != ':' && s[strlen(s) - 1] != ':' && !strstr(s, "::");
}

/* ------------------------------------------------------------------------------- plugin arguments */

static int copy_arg(char *dst, size_t size, const char *value, int (*valid)(const char *), const char *name)
{
    if (!valid(value) || strlen(value) >= size) {
        slurm_error("spank_pcocc: invalid plugstack argument %s=%s", name, value);
        return -1;
    }
    strcpy(dst, value);
    return 0;
}

static int parse_args(int ac, char **av)
{
    for (int i = 0; i < ac; i++) {
        const char *a = av[i];
        if (strncmp(a, "pcocc=", 6) == 0) {
            if (copy_arg(pcocc_bin, sizeof(pcocc_bin), a + 6, valid_abs_path, "pcocc"))
                return -1;
        } else if (strncmp(a, "path=", 5) == 0) {
            if (copy_arg(exec_path, sizeof(exec_path), a + 5, valid_search_path, "path"))
                return -1;
        } else if (strncmp(a, "conf=", 5) == 0) {
            if (copy_arg(conf_dir, sizeof(conf_dir), a + 5, valid_abs_path, "conf"))
                return -1;
        } else if (strncmp(a, "timeout=", 8) == 0) {
            char *end;
            long t = strtol(a + 8, &end, 10);
            if (*end || t < 1 || t > 86400) {
                slurm_error("spank_pcocc: invalid plugstack argument %s", a);
                return -1;
            }
            cmd_timeout = (int)t;
        } else {
            slurm_error("spank_pcocc: unknown plugstack argument '%s' (pcocc=, path=, conf=, timeout=)", a);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ the option */

static int opt_vm(int val, const char *optarg, int remote)
{
    (void)val;
    vm_given = 1;
    collect_failures = remote;
    if (!optarg || !valid_definition(optarg)) {
        vm_invalid = 1;
        report("pcocc: invalid --vm value (%zu bytes): expected <resource set>:<count>[,...] with "
                    "names [A-Za-z][A-Za-z0-9_-]*, at most %d characters",
                    optarg ? strnlen(optarg, 1 << 20) : 0, MAX_DEF_LEN);
        return -1;
    }
    strcpy(vm_def, optarg);
    return 0;
}

/* ----------------------------------------------------------------------------- running commands */

/* Control characters from a command's output would reach the user's terminal: replace them. */
static void report_output(const char *what, char *out)
{
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        for (char *c = line; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = ' ';
        if (*line)
            report("pcocc: %s: %s", what, line);
    }
}

static void child_exec(int out_fd, char *const argv[], char *const envp[])
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    setsid();
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(126);
    closefrom(3);
    if (chdir("/") != 0)
        _exit(126);
    execve(argv[0], argv, envp);
    dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int write_full(int fd, const void *buf, size_t len)
{
    return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/*
 * Runs in a child of slurmstepd that exits at once, so that the command and its supervisor leave
 * slurmstepd's process tree: at step end slurmstepd SIGTERMs every descendant (proctrack), which would
 * kill `setup delete` half-way. The supervisor reports the command's pid, then its wait status.
 */
static void supervise(int out_fd, int status_fd, char *const argv[], char *const envp[])
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (fork() != 0)
        _exit(0);
    pid_t cmd = fork();
    if (cmd == 0)
        child_exec(out_fd, argv, envp);
    close(out_fd);
    if (cmd < 0 || write_full(status_fd, &cmd, sizeof(cmd)))
        _exit(1);
    int status;
    while (waitpid(cmd, &status, 0) < 0)
        if (errno != EINTR)
            _exit(1);
    write_full(status_fd, &status, sizeof(status));
    _exit(0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Runs `<pcocc> internal setup <action>` with `envp`, collecting its merged stdout/stderr, for at most
 * `timeout=` seconds. Returns 0 on exit status 0; otherwise reports the output and the reason as errors
 * (which reach the user's srun) and returns -1.
 */
static int run_setup(const char *action, char *const envp[], const char *where)
{
    char *argv[] = {pcocc_bin, "internal", "setup", (char *)action, NULL};
    char what[256];
    snprintf(what, sizeof(what), "setup %s on %s", action, where);

    int out[2], st[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        report("pcocc: %s: pipe: %s", what, strerror(errno));
        return -1;
    }
    if (pipe2(st, O_CLOEXEC) != 0) {
        report("pcocc: %s: pipe: %s", what, strerror(errno));
        close(out[0]);
        close(out[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        supervise(out[1], st[1], argv, envp);
    close(out[1]);
    close(st[1]);
    if (pid < 0) {
        report("pcocc: %s: fork: %s", what, strerror(errno));
        close(out[0]);
        close(st[0]);
        return -1;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;

    static char text[MAX_OUTPUT + 1];
    size_t used = 0;
    /* the supervisor's news: pid_t then int wait status */
    unsigned char news[sizeof(pid_t) + sizeof(int)];
    size_t got = 0;
    int out_open = 1, st_open = 1, timed_out = 0;
    double deadline = now() + cmd_timeout, kill_at = 0;
    while (out_open || st_open) {
        struct pollfd pfd[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {st_open ? st[0] : -1, POLLIN, 0}};
        double left = (timed_out ? kill_at : deadline) - now();
        int r = poll(pfd, 2, left > 0 ? (int)(left * 1000) + 1 : 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            pid_t cmd = -1;
            if (got >= sizeof(pid_t))
                memcpy(&cmd, news, sizeof(pid_t));
            if (timed_out || cmd <= 0)
                break;
            /* the command leads its own process group: its children go too */
            timed_out = 1;
            kill(-cmd, SIGTERM);
            kill(cmd, SIGTERM);
            kill_at = now() + 5;
            continue;
        }
        char buf[4096];
        if (pfd[0].revents) {
            ssize_t n = read(out[0], buf, sizeof(buf));
            if (n <= 0 && !(n < 0 && errno == EINTR))
                out_open = 0;
            size_t take = n > 0 ? (size_t)n : 0;
            if (take > MAX_OUTPUT - used)
                take = MAX_OUTPUT - used;
            memcpy(text + used, buf, take);
            used += take;
        }
        if (pfd[1].revents) {
            ssize_t n = read(st[0], news + got, sizeof(news) - got);
            if (n <= 0 && !(n < 0 && errno == EINTR))
                st_open = 0;
            if (n > 0 && (got += (size_t)n) == sizeof(news))
                st_open = 0;
        }
    }
    if (timed_out && got >= sizeof(pid_t)) {
        pid_t cmd;
        memcpy(&cmd, news, sizeof(pid_t));
        kill(-cmd, SIGKILL);
        kill(cmd, SIGKILL);
    }
    close(out[0]);
    close(st[0]);
    text[used] = '\0';

    int status = -1;
    if (got == sizeof(news))
        memcpy(&status, news + sizeof(pid_t), sizeof(int));
    if (!timed_out && got == sizeof(news) && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (used)
            slurm_debug("pcocc: %s: %s", what, text);
        return 0;
    }
    report_output(what, text);
    if (timed_out)
        report("pcocc: %s: no result after %d s, killed", what, cmd_timeout);
    else if (got != sizeof(news))
        report("pcocc: %s: lost track of the command", what);
    else if (WIFEXITED(status))
        report("pcocc: %s failed (exit status %d)", what, WEXITSTATUS(status));
    else
        report("pcocc: %s killed by signal %d", what, WTERMSIG(status));
    return -1;
}

/* ------------------------------------------------------------------------------- the environment */

struct env {
    char *vars[MAX_ENV + 1];
    int n;
};

static int env_add(struct env *e, const char *name, const char *value)
{
    if (e->n >= MAX_ENV)
        return -1;
    if (asprintf(&e->vars[e->n], "%s=%s", name, value) < 0)
        return -1;
    e->vars[++e->n] = NULL;
    return 0;
}

static int env_addu(struct env *e, const char *name, unsigned long value)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lu", value);
    return env_add(e, name, buf);
}

static void env_free(struct env *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->vars[i]);
    e->n = 0;
    e->vars[0] = NULL;
}

/* A variable of the job's environment, or "" if unset; -1 (reported) if set but not acceptable. */
static int job_var(spank_t sp, const char *name, char *buf, int len, int (*valid)(const char *))
{
    buf[0] = '\0';
    if (spank_getenv(sp, name, buf, len) != ESPANK_SUCCESS) {
        buf[0] = '\0';
        return 0;
    }
    if (!valid(buf)) {
        report("pcocc: refusing invalid %s from the job environment", name);
        return -1;
    }
    return 0;
}

/*
 * Everything the setup commands get, from trusted sources or validated. The variable names are a contract
 * with `pcocc internal setup`, defined once on its side: SETUP_ENV in src/job/setup-env.ts. The job's shape
 * comes from slurmstepd (spank_get_item); the host list and tasks per node come from the step's environment,
 * which the user controls, so setup cross-checks them against the counts passed here and refuses a mismatch.
 */
static int build_env(spank_t sp, struct env *e, char *where, size_t where_len)
{
    uint32_t job_id, step_id, node_id, nnodes, local_tasks, total_tasks;
    uid_t uid;
    gid_t gid;
    if (spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_NODEID, &node_id) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_NNODES, &nnodes) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS) {
        report("pcocc: cannot read the job's identity from SLURM");
        return -1;
    }
    /* only create needs them (and refuses without them): delete must still run if they are unavailable */
    int have_tasks = spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &local_tasks) == ESPANK_SUCCESS &&
                     spank_get_item(sp, S_JOB_TOTAL_TASK_COUNT, &total_tasks) == ESPANK_SUCCESS;
    struct passwd pw, *res = NULL;
    char pwbuf[4096];
    if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res || !valid_user(res->pw_name)) {
        report("pcocc: cannot resolve job owner uid %lu to a valid user name", (unsigned long)uid);
        return -1;
    }
    static char nodelist[MAX_ENV_VALUE], tasks[MAX_ENV_VALUE], cred[64];
    if (job_var(sp, "SLURM_JOB_NODELIST", nodelist, sizeof(nodelist), valid_hostlist) ||
        job_var(sp, "SLURM_STEP_TASKS_PER_NODE", tasks, sizeof(tasks), valid_tasks_per_node))
        return -1;
    if (!tasks[0] && job_var(sp, "SLURM_TASKS_PER_NODE", tasks, sizeof(tasks), valid_tasks_per_node))
        return -1;
    if (job_var(sp, "SPANK_PCOCC_REQUEST_CRED", cred, sizeof(cred), valid_credential))
        return -1;
    if (!cred[0] && job_var(sp, "PCOCC_REQUEST_CRED", cred, sizeof(cred), valid_credential))
        return -1;

    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(where, where_len, "node %s (job %lu)", host, (unsigned long)job_id);

    int rc = env_add(e, "PATH", exec_path) | env_addu(e, "SLURM_JOB_ID", job_id) |
             env_addu(e, "SLURM_STEP_ID", step_id) | env_addu(e, "SLURM_JOB_UID", uid) |
             env_add(e, "SLURM_JOB_USER", res->pw_name) | env_addu(e, "SLURM_NODEID", node_id) |
             env_addu(e, "SLURM_STEP_NUM_NODES", nnodes) | env_addu(e, "SLURM_JOB_GID", gid) |
             env_add(e, "SPANK_PCOCC_SETUP", vm_def);
    if (have_tasks)
        rc |= env_addu(e, "PCOCC_STEP_LOCAL_TASKS", local_tasks) |
              env_addu(e, "PCOCC_STEP_TOTAL_TASKS", total_tasks);
    if (nodelist[0])
        rc |= env_add(e, "SLURM_JOB_NODELIST", nodelist);
    if (tasks[0])
        rc |= env_add(e, "SLURM_TASKS_PER_NODE", tasks) | env_add(e, "SLURM_STEP_TASKS_PER_NODE", tasks);
    if (cred[0])
        rc |= env_add(e, "SPANK_PCOCC_REQUEST_CRED", cred);
    if (conf_dir[0])
        rc |= env_add(e, "PCOCC_SYSTEM_CONF_DIR", conf_dir);
    if (rc) {
        report("pcocc: out of memory building the setup environment");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- once per job and node */

static int job_id_of(spank_t sp, uint32_t *job_id)
{
    if (spank_get_item(sp, S_JOB_ID, job_id) == ESPANK_SUCCESS)
        return 0;
    const char *s = getenv("SLURM_JOB_ID");
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || v == 0 || v > UINT32_MAX)
        return -1;
    *job_id = (uint32_t)v;
    return 0;
}

static int ensure_run_dir(void)
{
    /* 0711: the job's user must traverse it to reach their VM state (vm-state/job-<id>, see src/vm/job-state.ts) */
    if (mkdir(RUN_DIR, 0711) != 0 && errno != EEXIST) {
        report("pcocc: cannot create %s: %s", RUN_DIR, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(RUN_DIR, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022)) {
        report("pcocc: %s must be a root-owned directory not writable by others", RUN_DIR);
        return -1;
    }
    return 0;
}

static void stepid_path(char *buf, size_t len, uint32_t job_id)
{
    snprintf(buf, len, RUN_DIR "/stepid_%lu", (unsigned long)job_id);
}

/* Returns 1 if this step is the job's first --vm step on this node (and records it), 0 if not, -1 on error. */
static int claim_setup(uint32_t job_id, uint32_t step_id)
{
    char path[128];
    if (ensure_run_dir())
        return -1;
    stepid_path(path, sizeof(path), job_id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        report("pcocc: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = dprintf(fd, "%lu\n", (unsigned long)step_id) > 0;
    if (close(fd) != 0 || !ok) {
        report("pcocc: cannot write %s", path);
        return -1;
    }
    return 1;
}

static int remote_setup(spank_t sp)
{
    if (getuid() != 0 || geteuid() != 0) {
        report("pcocc: the SPANK plugin must run as root in slurmstepd to set up VMs");
        return -1;
    }
    uint32_t job_id, step_id;
    if (spank_get_item(sp, S_JOB_ID, &job_id) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS) {
        report("pcocc: cannot read the job and step ids");
        return -1;
    }
    /* SLURM's special steps (batch script, extern, interactive: ids >= 0xfffffff0) hold no VMs */
    if (step_id >= 0xfffffff0u) {
        slurm_debug("pcocc: no host setup for special step %lu", (unsigned long)step_id);
        return 0;
    }
    int claimed = claim_setup(job_id, step_id);
    if (claimed <= 0)
        return claimed;
    setup_owner = 1;

    struct env e = {.n = 0};
    char where[320];
    int rc = build_env(sp, &e, where, sizeof(where));
    if (rc == 0) {
        /* create makes the node-level objects (setup init) too: one pcocc start on the step's path */
        rc = run_setup("create", e.vars, where);
        if (rc != 0) {
            /* undo what a partial create did now: the step will not start */
            run_setup("delete", e.vars, where);
        }
    }
    if (rc != 0) {
        /* nothing is left to delete at step end, and a later --vm step may try again */
        char path[128];
        stepid_path(path, sizeof(path), job_id);
        unlink(path);
        setup_owner = 0;
    }
    env_free(&e);
    return rc;
}

/* ------------------------------------------------------------------------------------ SPANK hooks */

int slurm_spank_init(spank_t sp, int ac, char **av)
{
    if (parse_args(ac, av))
        return -1;
    if (spank_option_register(sp, &vm_option) != ESPANK_SUCCESS) {
        slurm_error("spank_pcocc: cannot register --vm");
        return -1;
    }
    return 0;
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    if (!vm_given)
        return 0;
    if (spank_context() == S_CTX_REMOTE) {
        collect_failures = 1;
        if (vm_invalid || remote_setup(sp) != 0)
            setup_failed = 1;
        return 0;
    }
    if (vm_invalid)
        return -1;
    switch (spank_context()) {
    case S_CTX_LOCAL:
    case S_CTX_ALLOCATOR: {
        /* seen by Prolog/Epilog as SPANK_PCOCC_SETUP / SPANK_PCOCC_REQUEST_CRED */
        if (spank_job_control_setenv(sp, "PCOCC_SETUP", vm_def, 1) != ESPANK_SUCCESS) {
            report("pcocc: cannot pass --vm to the job");
            return -1;
        }
        const char *cred = getenv("PCOCC_REQUEST_CRED");
        if (cred && *cred) {
            if (!valid_credential(cred)) {
                report("pcocc: PCOCC_REQUEST_CRED is not a pcocc credential (32 hex digits)");
                return -1;
            }
            if (spank_job_control_setenv(sp, "PCOCC_REQUEST_CRED", cred, 1) != ESPANK_SUCCESS) {
                report("pcocc: cannot pass the keystore credential to the job");
                return -1;
            }
        }
        return 0;
    }
    default:
        return 0;
    }
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
    (void)sp;
    (void)ac;
    (void)av;
    if (!setup_failed)
        return 0;
    static const char tail[] = "pcocc: host setup failed on this node: the step cannot run here\n";
    if (write(STDERR_FILENO, failure, failure_len) < 0 || write(STDERR_FILENO, tail, sizeof(tail) - 1) < 0)
        return -1;
    return -1;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    if (!setup_owner || deleted || spank_context() != S_CTX_REMOTE)
        return 0;
    deleted = 1;
    struct env e = {.n = 0};
    char where[320];
    if (build_env(sp, &e, where, sizeof(where)) == 0)
        run_setup("delete", e.vars, where);
    env_free(&e);
    return 0;
}

int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    uint32_t job_id;
    char path[128];
    if (job_id_of(sp, &job_id) || ensure_run_dir())
        return 0;
    /* a record left by an earlier job with this id (its epilog never ran) must not block this one */
    stepid_path(path, sizeof(path), job_id);
    unlink(path);
    return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    uint32_t job_id;
    char path[128];
    if (job_id_of(sp, &job_id))
        return 0;
    stepid_path(path, sizeof(path), job_id);
    unlink(path);
    return 0;
}
