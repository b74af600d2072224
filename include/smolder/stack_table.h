/* stack_table.h: interns stacks (sequences of 64-bit frame addresses) to dense ids, so samples and
 * allocations are counted per id and each unique stack is stored and symbolized once. */
#ifndef SMOLDER_STACK_TABLE_H
#define SMOLDER_STACK_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct stack_table;

/* A new empty table; NULL and errno on failure. Free with stack_table_free. */
struct stack_table *stack_table_new(void);
void stack_table_free(struct stack_table *table);

/* Interns frames[0..n) (any order the caller chooses, kept as given). *id gets the stack's dense
 * id, 0..count-1. Returns 0, or -ENOMEM. n may be 0 (the empty stack). */
int stack_table_add(struct stack_table *table, const uint64_t *frames, uint32_t n, uint32_t *id);
/* The frames of id (pointer into the table, valid until the next add), or NULL for a bad id. */
const uint64_t *stack_table_get(const struct stack_table *table, uint32_t id, uint32_t *n);
uint32_t stack_table_count(const struct stack_table *table);
/* Bytes held, for the tool's own memory accounting. */
size_t stack_table_memory(const struct stack_table *table);

#endif
