/*
 * jinja_sort.c - the sort and dictsort filters' ordering: libstdc++'s std::sort, comparison for comparison.
 *
 * std::sort is not stable, so which of two equal items comes first depends on the algorithm (introsort: median-of-
 * three quicksort, heapsort past a depth limit, insertion sort for the final pass). llama.cpp sorts with it, so
 * reproducing its steps exactly is what makes ties come out in the same order. Every index is bounds-checked, so an
 * inconsistent comparison (which C++ leaves undefined) cannot read outside the array.
 */
#include "text/jinja.h"

#include <string.h>

typedef struct jsorter {
    jrt *rt;
    jv *v;
    size_t n;
    jless_fn less;
    void *ud;
} jsorter;

static bool lt(jsorter *s, const jv *a, const jv *b) {
    jstep(s->rt);
    return s->less(s->rt, a, b, s->ud);
}

static void swap_at(jv *v, size_t a, size_t b) {
    jv t = v[a];
    v[a] = v[b];
    v[b] = t;
}

static void unguarded_linear_insert(jsorter *s, size_t last) {
    jv val = s->v[last];
    size_t next = last - 1;
    while (last > 0 && lt(s, &val, &s->v[next])) {
        s->v[last] = s->v[next];
        last = next;
        if (next == 0) {
            break;
        }
        next--;
    }
    s->v[last] = val;
}

static void insertion_sort(jsorter *s, size_t first, size_t last) {
    if (first == last) {
        return;
    }
    for (size_t i = first + 1; i < last; i++) {
        if (lt(s, &s->v[i], &s->v[first])) {
            jv val = s->v[i];
            memmove(&s->v[first + 1], &s->v[first], (i - first) * sizeof(jv));
            s->v[first] = val;
        } else {
            unguarded_linear_insert(s, i);
        }
    }
}

static void move_median_to_first(jsorter *s, size_t result, size_t a, size_t b, size_t c) {
    jv *v = s->v;
    if (lt(s, &v[a], &v[b])) {
        if (lt(s, &v[b], &v[c])) {
            swap_at(v, result, b);
        } else if (lt(s, &v[a], &v[c])) {
            swap_at(v, result, c);
        } else {
            swap_at(v, result, a);
        }
    } else if (lt(s, &v[a], &v[c])) {
        swap_at(v, result, a);
    } else if (lt(s, &v[b], &v[c])) {
        swap_at(v, result, c);
    } else {
        swap_at(v, result, b);
    }
}

static size_t unguarded_partition(jsorter *s, size_t first, size_t last, size_t pivot) {
    size_t lo = first, hi = last;
    while (true) {
        while (first < hi && lt(s, &s->v[first], &s->v[pivot])) {
            first++;
        }
        last--;
        while (last > lo && lt(s, &s->v[pivot], &s->v[last])) {
            last--;
        }
        if (!(first < last)) {
            return first;
        }
        swap_at(s->v, first, last);
        first++;
    }
}

static void adjust_heap(jsorter *s, size_t first, size_t hole, size_t len, jv value) {
    jv *v = s->v + first;
    size_t top = hole, child = hole;
    while (len > 0 && child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (lt(s, &v[child], &v[child - 1])) {
            child--;
        }
        v[hole] = v[child];
        hole = child;
    }
    if ((len & 1) == 0 && len >= 2 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        v[hole] = v[child - 1];
        hole = child - 1;
    }
    size_t parent = hole > 0 ? (hole - 1) / 2 : 0;
    while (hole > top && lt(s, &v[parent], &value)) {
        v[hole] = v[parent];
        hole = parent;
        parent = hole > 0 ? (hole - 1) / 2 : 0;
    }
    v[hole] = value;
}

static void heap_sort(jsorter *s, size_t first, size_t last) {
    size_t len = last - first;
    if (len >= 2) {
        size_t parent = (len - 2) / 2;
        while (true) {
            adjust_heap(s, first, parent, len, s->v[first + parent]);
            if (parent == 0) {
                break;
            }
            parent--;
        }
    }
    while (last - first > 1) {
        last--;
        jv value = s->v[last];
        s->v[last] = s->v[first];
        adjust_heap(s, first, 0, last - first, value);
    }
}

static void introsort_loop(jsorter *s, size_t first, size_t last, size_t depth_limit) {
    while (last - first > 16) {
        if (depth_limit == 0) {
            heap_sort(s, first, last);
            return;
        }
        depth_limit--;
        size_t mid = first + (last - first) / 2;
        move_median_to_first(s, first, first + 1, mid, last - 1);
        size_t cut = unguarded_partition(s, first + 1, last, first);
        introsort_loop(s, cut, last, depth_limit);
        last = cut;
    }
}

void jsort(jrt *rt, jv *v, size_t n, jless_fn less, void *ud) {
    if (n < 2) {
        return;
    }
    jsorter s = { rt, v, n, less, ud };
    size_t lg = 0;
    for (size_t k = n; k > 1; k >>= 1) {
        lg++;
    }
    introsort_loop(&s, 0, n, 2 * lg);
    if (n > 16) {
        insertion_sort(&s, 0, 16);
        for (size_t i = 16; i < n; i++) {
            unguarded_linear_insert(&s, i);
        }
    } else {
        insertion_sort(&s, 0, n);
    }
}
