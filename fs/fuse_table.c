/* fs/fuse_table.c — the FUSE server's node table (nodeid -> O_PATH fd, (dev, ino), lookup
 * count) and handle table (fh -> open fd), both bounded (see fs/fuse_internal.h).
 *
 * Trusts: the ids come from the guest (checked: slot in range, slot in use, generation
 * matches); the fds come from the request handlers.
 */
#include "fs/fuse_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t hash_ino(dev_t dev, ino_t ino)
{
	uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;
	return (uint32_t)(x >> 40) & (FUSE_HASH_BUCKETS - 1);
}

static struct fuse_node *slot_node(struct fuse_share *s, uint32_t slot)
{
	return &s->node_chunks[slot / FUSE_NODE_CHUNK][slot % FUSE_NODE_CHUNK];
}

static struct fuse_fh *slot_fh(struct fuse_share *s, uint32_t slot)
{
	return &s->fh_chunks[slot / FUSE_HANDLE_CHUNK][slot % FUSE_HANDLE_CHUNK];
}

int fuse_table_init(struct fuse_share *s)
{
	uint32_t nchunks = (s->max_nodes + FUSE_NODE_CHUNK - 1) / FUSE_NODE_CHUNK;
	uint32_t hchunks = (s->max_handles + FUSE_HANDLE_CHUNK - 1) / FUSE_HANDLE_CHUNK;

	s->node_chunks = calloc(nchunks, sizeof(*s->node_chunks));
	s->fh_chunks = calloc(hchunks, sizeof(*s->fh_chunks));
	s->buckets = malloc(FUSE_HASH_BUCKETS * sizeof(*s->buckets));
	if (!s->node_chunks || !s->fh_chunks || !s->buckets)
		goto free_all;
	memset(s->buckets, 0xff, FUSE_HASH_BUCKETS * sizeof(*s->buckets));
	s->node_free = FUSE_NIL;
	s->fh_free = FUSE_NIL;
	if (pthread_mutex_init(&s->lock, NULL))
		goto free_all;
	return 0;

free_all:
	free(s->node_chunks);
	free(s->fh_chunks);
	free(s->buckets);
	s->node_chunks = NULL;
	s->fh_chunks = NULL;
	s->buckets = NULL;
	return -ENOMEM;
}

static void hash_unlink(struct fuse_share *s, uint32_t slot)
{
	struct fuse_node *n = slot_node(s, slot);
	uint32_t *p = &s->buckets[hash_ino(n->dev, n->ino)];

	while (*p != FUSE_NIL) {
		if (*p == slot) {
			*p = n->hash_next;
			return;
		}
		p = &slot_node(s, *p)->hash_next;
	}
}

/* Lock held. n has nlookup == 0 and refs == 0. */
static void node_free(struct fuse_share *s, struct fuse_node *n, uint32_t slot)
{
	if (n->fd >= 0) { /* a dead node is in no hash chain */
		hash_unlink(s, slot);
		close(n->fd);
	}
	n->fd = -1;
	n->is_used = false;
	n->gen++;
	n->free_next = s->node_free;
	s->node_free = slot;
	s->nr_nodes--;
}

static void fh_free_slot(struct fuse_share *s, struct fuse_fh *h, uint32_t slot)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->is_used = false;
	h->gen++;
	h->free_next = s->fh_free;
	s->fh_free = slot;
	s->nr_handles--;
}

void fuse_table_reset(struct fuse_share *s)
{
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < s->nr_fh_slots; i++) {
		struct fuse_fh *h = slot_fh(s, i);
		if (h->is_used)
			fh_free_slot(s, h, i);
	}
	for (uint32_t i = 1; i < s->nr_node_slots; i++) {
		struct fuse_node *n = slot_node(s, i);
		if (n->is_used) {
			n->nlookup = 0;
			n->refs = 0;
			node_free(s, n, i);
		}
	}
	if (s->nr_node_slots)
		slot_node(s, 0)->nlookup = 1;
	pthread_mutex_unlock(&s->lock);
}

void fuse_table_fini(struct fuse_share *s)
{
	if (!s->node_chunks)
		return;
	fuse_table_reset(s);
	if (s->nr_node_slots && slot_node(s, 0)->is_used)
		close(slot_node(s, 0)->fd);
	for (uint32_t i = 0; i * FUSE_NODE_CHUNK < s->nr_node_slots; i++)
		free(s->node_chunks[i]);
	for (uint32_t i = 0; i * FUSE_HANDLE_CHUNK < s->nr_fh_slots; i++) {
		for (uint32_t j = 0;
		     j < FUSE_HANDLE_CHUNK && i * FUSE_HANDLE_CHUNK + j < s->nr_fh_slots; j++)
			pthread_mutex_destroy(&s->fh_chunks[i][j].dir_lock);
		free(s->fh_chunks[i]);
	}
	free(s->node_chunks);
	free(s->fh_chunks);
	free(s->buckets);
	s->node_chunks = NULL;
	pthread_mutex_destroy(&s->lock);
}

/* Lock held: a free slot (new or reused) or FUSE_NIL. */
static uint32_t node_alloc(struct fuse_share *s)
{
	uint32_t slot;

	if (s->node_free != FUSE_NIL) {
		slot = s->node_free;
		s->node_free = slot_node(s, slot)->free_next;
		return slot;
	}
	if (s->nr_node_slots >= s->max_nodes)
		return FUSE_NIL;
	slot = s->nr_node_slots;
	if (slot % FUSE_NODE_CHUNK == 0) {
		struct fuse_node *c = calloc(FUSE_NODE_CHUNK, sizeof(*c));
		if (!c)
			return FUSE_NIL;
		s->node_chunks[slot / FUSE_NODE_CHUNK] = c;
	}
	s->nr_node_slots++;
	return slot;
}

int64_t fuse_node_add(struct fuse_share *s, int fd, const struct stat *st)
{
	uint32_t b = hash_ino(st->st_dev, st->st_ino), slot;
	struct fuse_node *n;

	pthread_mutex_lock(&s->lock);
	for (slot = s->buckets[b]; slot != FUSE_NIL; slot = n->hash_next) {
		n = slot_node(s, slot);
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			n->nlookup++;
			pthread_mutex_unlock(&s->lock);
			close(fd);
			return ((int64_t)n->gen << 32) | (slot + 1);
		}
	}
	slot = node_alloc(s);
	if (slot == FUSE_NIL) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return -ENFILE;
	}
	n = slot_node(s, slot);
	n->fd = fd;
	n->slot = slot;
	n->nlookup = 1;
	n->refs = 0;
	n->is_used = true;
	n->type = st->st_mode & S_IFMT;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->hash_next = s->buckets[b];
	s->buckets[b] = slot;
	s->nr_nodes++;
	pthread_mutex_unlock(&s->lock);
	return ((int64_t)n->gen << 32) | (slot + 1);
}

/* Lock held. */
static struct fuse_node *node_lookup(struct fuse_share *s, uint64_t nodeid, uint32_t *slotp)
{
	uint32_t low = (uint32_t)nodeid, gen = (uint32_t)(nodeid >> 32);
	struct fuse_node *n;

	if (low == 0 || low - 1 >= s->nr_node_slots)
		return NULL;
	n = slot_node(s, low - 1);
	if (!n->is_used || n->gen != gen)
		return NULL;
	*slotp = low - 1;
	return n;
}

struct fuse_node *fuse_node_get(struct fuse_share *s, uint64_t nodeid)
{
	struct fuse_node *n;
	uint32_t slot;

	pthread_mutex_lock(&s->lock);
	n = node_lookup(s, nodeid, &slot);
	if (n && n->fd < 0)
		n = NULL;
	if (n)
		n->refs++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool fuse_node_is_dead(struct fuse_share *s, uint64_t nodeid)
{
	struct fuse_node *n;
	uint32_t slot;
	bool is_dead;

	pthread_mutex_lock(&s->lock);
	n = node_lookup(s, nodeid, &slot);
	is_dead = n && n->fd < 0;
	pthread_mutex_unlock(&s->lock);
	return is_dead;
}

void fuse_node_put(struct fuse_share *s, struct fuse_node *n)
{
	pthread_mutex_lock(&s->lock);
	if (--n->refs == 0 && n->nlookup == 0 && n->slot != 0)
		node_free(s, n, n->slot);
	pthread_mutex_unlock(&s->lock);
}

int fuse_node_forget(struct fuse_share *s, uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_node *n;
	uint32_t slot;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	n = node_lookup(s, nodeid, &slot);
	if (!n || slot == 0) {
		/* The root is never forgotten (the kernel does not send it; a guest might). */
		r = n ? 0 : -ENOENT;
		goto unlock;
	}
	n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
	if (n->nlookup == 0 && n->refs == 0)
		node_free(s, n, slot);
unlock:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int64_t fuse_fh_add(struct fuse_share *s, int fd, bool is_dir, int flags, uint64_t nodeid)
{
	struct fuse_fh *h;
	uint32_t slot;

	pthread_mutex_lock(&s->lock);
	if (s->fh_free != FUSE_NIL) {
		slot = s->fh_free;
		s->fh_free = slot_fh(s, slot)->free_next;
	} else if (s->nr_fh_slots < s->max_handles) {
		slot = s->nr_fh_slots;
		if (slot % FUSE_HANDLE_CHUNK == 0) {
			struct fuse_fh *c = calloc(FUSE_HANDLE_CHUNK, sizeof(*c));
			if (!c)
				goto full;
			for (uint32_t i = 0; i < FUSE_HANDLE_CHUNK; i++)
				pthread_mutex_init(&c[i].dir_lock, NULL);
			s->fh_chunks[slot / FUSE_HANDLE_CHUNK] = c;
		}
		s->nr_fh_slots++;
	} else {
		goto full;
	}
	h = slot_fh(s, slot);
	h->fd = fd;
	h->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC);
	h->nodeid = nodeid;
	h->slot = slot;
	h->refs = 0;
	h->is_used = true;
	h->is_released = false;
	h->is_dir = is_dir;
	s->nr_handles++;
	pthread_mutex_unlock(&s->lock);
	return ((int64_t)h->gen << 32) | slot;

full:
	pthread_mutex_unlock(&s->lock);
	close(fd);
	return -EMFILE;
}

/* Lock held. */
static struct fuse_fh *fh_lookup(struct fuse_share *s, uint64_t fh, uint32_t *slotp)
{
	uint32_t slot = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
	struct fuse_fh *h;

	if (slot >= s->nr_fh_slots)
		return NULL;
	h = slot_fh(s, slot);
	if (!h->is_used || h->is_released || h->gen != gen)
		return NULL;
	*slotp = slot;
	return h;
}

struct fuse_fh *fuse_fh_get(struct fuse_share *s, uint64_t fh)
{
	struct fuse_fh *h;
	uint32_t slot;

	pthread_mutex_lock(&s->lock);
	h = fh_lookup(s, fh, &slot);
	if (h && h->fd < 0)
		h = NULL;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&s->lock);
	return h;
}

void fuse_fh_put(struct fuse_share *s, struct fuse_fh *h)
{
	pthread_mutex_lock(&s->lock);
	if (--h->refs == 0 && h->is_released)
		fh_free_slot(s, h, h->slot);
	pthread_mutex_unlock(&s->lock);
}

int fuse_fh_release(struct fuse_share *s, uint64_t fh, bool is_dir)
{
	struct fuse_fh *h;
	uint32_t slot;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	h = fh_lookup(s, fh, &slot);
	if (!h || h->is_dir != is_dir) {
		r = -EBADF;
	} else {
		h->is_released = true;
		if (h->refs == 0)
			fh_free_slot(s, h, slot);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- snapshot support (fs/fuse_state.c): no request runs, so no lock is needed; it is
 * taken anyway where it costs nothing, so the table functions above keep their rule ---- */

struct fuse_node *fuse_table_node_at(struct fuse_share *s, uint32_t slot)
{
	struct fuse_node *n;

	if (slot >= s->nr_node_slots)
		return NULL;
	n = slot_node(s, slot);
	return n->is_used ? n : NULL;
}

struct fuse_fh *fuse_table_fh_at(struct fuse_share *s, uint32_t slot)
{
	struct fuse_fh *h;

	if (slot >= s->nr_fh_slots)
		return NULL;
	h = slot_fh(s, slot);
	return h->is_used && !h->is_released ? h : NULL;
}

struct fuse_node *fuse_table_node_by_id(struct fuse_share *s, uint64_t nodeid)
{
	uint32_t slot;

	return node_lookup(s, nodeid, &slot);
}

/* Grows the node slots to n (chunks on demand, as node_alloc does). */
static int grow_nodes(struct fuse_share *s, uint32_t n)
{
	while (s->nr_node_slots < n) {
		uint32_t slot = s->nr_node_slots;
		if (slot % FUSE_NODE_CHUNK == 0) {
			struct fuse_node *c = calloc(FUSE_NODE_CHUNK, sizeof(*c));
			if (!c)
				return -ENOMEM;
			for (uint32_t i = 0; i < FUSE_NODE_CHUNK; i++)
				c[i].fd = -1;
			s->node_chunks[slot / FUSE_NODE_CHUNK] = c;
		}
		s->nr_node_slots++;
	}
	return 0;
}

static int grow_fhs(struct fuse_share *s, uint32_t n)
{
	while (s->nr_fh_slots < n) {
		uint32_t slot = s->nr_fh_slots;
		if (slot % FUSE_HANDLE_CHUNK == 0) {
			struct fuse_fh *c = calloc(FUSE_HANDLE_CHUNK, sizeof(*c));
			if (!c)
				return -ENOMEM;
			for (uint32_t i = 0; i < FUSE_HANDLE_CHUNK; i++) {
				c[i].fd = -1;
				pthread_mutex_init(&c[i].dir_lock, NULL);
			}
			s->fh_chunks[slot / FUSE_HANDLE_CHUNK] = c;
		}
		s->nr_fh_slots++;
	}
	return 0;
}

int fuse_table_restore_begin(struct fuse_share *s, uint32_t nr_nodes, uint32_t nr_fhs)
{
	int r;

	if (nr_nodes < 1 || nr_nodes > s->max_nodes || nr_fhs > s->max_handles)
		return -EINVAL;
	fuse_table_reset(s);
	pthread_mutex_lock(&s->lock);
	r = grow_nodes(s, nr_nodes);
	if (!r)
		r = grow_fhs(s, nr_fhs);
	/* Every slot is free but none is on a free list until restore_end. */
	s->node_free = FUSE_NIL;
	s->fh_free = FUSE_NIL;
	pthread_mutex_unlock(&s->lock);
	if (r)
		fuse_table_restore_end(s);
	return r;
}

int fuse_table_place_node(struct fuse_share *s, uint32_t slot, uint32_t gen, uint64_t nlookup,
			  int fd, mode_t type, dev_t dev, ino_t ino)
{
	struct fuse_node *n;
	uint32_t b = hash_ino(dev, ino), i;
	int r = -EINVAL;

	pthread_mutex_lock(&s->lock);
	if (slot == 0 || slot >= s->nr_node_slots || nlookup == 0)
		goto fail;
	n = slot_node(s, slot);
	if (n->is_used)
		goto fail;
	if (fd >= 0) {
		for (i = s->buckets[b]; i != FUSE_NIL; i = slot_node(s, i)->hash_next)
			if (slot_node(s, i)->dev == dev && slot_node(s, i)->ino == ino)
				goto fail;
		n->hash_next = s->buckets[b];
		s->buckets[b] = slot;
	}
	n->fd = fd;
	n->gen = gen;
	n->slot = slot;
	n->nlookup = nlookup;
	n->refs = 0;
	n->is_used = true;
	n->type = type & S_IFMT;
	n->dev = dev;
	n->ino = ino;
	s->nr_nodes++;
	r = 0;
	pthread_mutex_unlock(&s->lock);
	return r;
fail:
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close(fd);
	return r;
}

int fuse_table_place_fh(struct fuse_share *s, uint32_t slot, uint32_t gen, int fd, bool is_dir,
			int flags, uint64_t nodeid)
{
	struct fuse_fh *h;

	pthread_mutex_lock(&s->lock);
	if (slot >= s->nr_fh_slots || slot_fh(s, slot)->is_used) {
		pthread_mutex_unlock(&s->lock);
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	h = slot_fh(s, slot);
	h->fd = fd;
	h->flags = flags;
	h->nodeid = nodeid;
	h->gen = gen;
	h->slot = slot;
	h->refs = 0;
	h->is_used = true;
	h->is_released = false;
	h->is_dir = is_dir;
	s->nr_handles++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void fuse_table_restore_end(struct fuse_share *s)
{
	pthread_mutex_lock(&s->lock);
	s->node_free = FUSE_NIL;
	s->fh_free = FUSE_NIL;
	/* Highest first, so the lowest free slot is handed out first (as before the save). */
	for (uint32_t i = s->nr_node_slots; i-- > 1;) {
		struct fuse_node *n = slot_node(s, i);
		if (!n->is_used) {
			n->free_next = s->node_free;
			s->node_free = i;
		}
	}
	for (uint32_t i = s->nr_fh_slots; i-- > 0;) {
		struct fuse_fh *h = slot_fh(s, i);
		if (!h->is_used) {
			h->free_next = s->fh_free;
			s->fh_free = i;
		}
	}
	pthread_mutex_unlock(&s->lock);
}
