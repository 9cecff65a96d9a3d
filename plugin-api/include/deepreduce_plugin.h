/*
 * deepreduce_plugin.h - the C ABI of DeepReDuce Workbench plugins, version 1.1.
 *
 * This header mirrors plugin-api/src/abi.rs (the ABI) and the ids of
 * plugin-api/src/protocol.rs (capabilities and methods). It is the whole
 * contract a plugin written in C, C++ or any language with a C FFI needs.
 *
 * A plugin is a shared library (.so, .dylib, .dll) that exports exactly one
 * symbol, DEEPREDUCE_ENTRY_SYMBOL ("deepreduce_plugin_entry_v1"): a function
 * without arguments that returns a pointer to a DrPluginEntryV1 the plugin
 * owns for as long as the library stays loaded (normally a static const).
 *
 * Everything that crosses the boundary is a NUL-terminated UTF-8 JSON text:
 *
 *   descriptor()            -> {"id": "org.example.thing", "name": "...",
 *                               "vendor": "...", "version": "1.0.0",
 *                               "kind": "architecture" | "optimization"
 *                                       | "latency" | "method",
 *                               "description": "...",
 *                               "capabilities": ["deepreduce.optimization/1"]}
 *   call(method, input, &out) -> a status code; *out is the result JSON, or
 *                               {"error": "..."} on any status but DR_STATUS_OK.
 *
 * Method ids are "<capability>:<verb>"; the payload of each method is the
 * JSON (serde) encoding of the types named next to the DR_METHOD_* macros
 * below, defined in plugin-api/src/protocol.rs and plugin-api/src/ir.rs.
 *
 * Memory rules - each side frees only what it allocated:
 *   - The string returned by descriptor() belongs to the plugin and must stay
 *     valid for as long as the library is loaded. The host never frees it.
 *   - The strings passed *into* call() (method, input) belong to the host and
 *     are only valid during the call; the plugin must not keep or free them.
 *   - The string call() stores in *output is allocated by the plugin (with
 *     whatever allocator it likes) and is released by the host with the same
 *     plugin's free_string(), exactly once. The host never calls free() on it.
 *   - free_string(NULL) must be a no-op.
 *
 * Compatibility rules:
 *   - DrPluginEntryV1 only ever grows, by appending fields at its end. A
 *     plugin sets struct_size = sizeof(DrPluginEntryV1) as it was compiled;
 *     the host checks struct_size and the ABI version (abi_major must equal
 *     DEEPREDUCE_ABI_MAJOR) before touching any function pointer, and reads
 *     no field that lies beyond struct_size.
 *   - A breaking change gets a new major version and a new entry symbol.
 *   - Function pointers may be NULL; a plugin that leaves a required one
 *     out is refused by the host instead of crashing it.
 *
 *   - A minor version only adds to the JSON. The host never sends a plugin
 *     a network using something newer than the abi_minor it was built
 *     against (ir.rs: Network::abi_minor_needed).
 *
 * Threading: the host may call descriptor() and call() from any thread, and
 * call() from several threads at once; keep plugins free of unsynchronised
 * mutable global state.
 *
 * What ABI 1.1 adds to the network JSON (ir.rs, mask.rs, poly.rs): ReLU
 * masks and polynomial activations. A plugin built against 1.0 never sees
 * them; one that sets abi_minor = 1 may receive and return them.
 *
 *   - A "Relu" node may carry a mask: only the kept elements go through
 *     the ReLU, the others become "dropped" (default "identity").
 *
 *       {"name": "s2.b1.relu1", "op": "Relu",
 *        "mask": {"granularity": "pixel", "len": 32768, "kept": 1234,
 *                 "bits": "AQo...="},
 *        "dropped": "identity",
 *        "inputs": ["s2.b1.bn1"], "stage": "S2", "block": "S2.B1"}
 *
 *     granularity "channel": one bit per channel (len = C); "pixel": one
 *     bit per element of the C x H x W activation in CHW order (len =
 *     C*H*W; bit c*H*W + y*W + x). A feature vector of n counts as n
 *     channels of one element. A set bit keeps the ReLU.
 *     bits: standard base64 (RFC 4648, '=' padding) of ceil(len / 8) bytes;
 *     bit i is bit i % 8 (least significant first) of byte i / 8; bits past
 *     len must be 0. kept: the number of bits set; a mismatch is refused.
 *     dropped: "identity" (passed through) or {"poly": POLYNOMIAL}.
 *     A "Relu" without "mask" keeps every element, as in 1.0.
 *
 *   - A "Poly" node: a whole ReLU layer replaced by a polynomial.
 *
 *       {"name": "s1.b1.relu1", "op": "Poly", "poly": POLYNOMIAL,
 *        "inputs": [...], "stage": "S1"}
 *
 *   - POLYNOMIAL = {"a": [...], "b": [...], "c": [...], "trainable": bool}:
 *     y = a[k]*x^2 + b[k]*x + c[k] on channel k; each list holds one finite
 *     number per channel of the layer. Trainable coefficients are learned
 *     with the weights.
 *
 *   - "mask" and "dropped" belong to "Relu", "poly" to "Poly": a plugin that
 *     turns a masked Relu into "Identity" removes them (the host refuses a
 *     node with a field its operator does not take).
 *
 * Shape inference checks every mask's len and every polynomial's lists
 * against the layer.
 */
#ifndef DEEPREDUCE_PLUGIN_H
#define DEEPREDUCE_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header (abi.rs: ABI_MAJOR, ABI_MINOR). */
#define DEEPREDUCE_ABI_MAJOR 1
#define DEEPREDUCE_ABI_MINOR 1

/* The one symbol a plugin library exports (abi.rs: ENTRY_SYMBOL). */
#define DEEPREDUCE_ENTRY_SYMBOL "deepreduce_plugin_entry_v1"

/*
 * Status codes returned by call() (abi.rs: status). On any status but
 * DR_STATUS_OK the output string, if set, is a JSON {"error": "..."}.
 */
/* Success; *output holds the method's result JSON. */
#define DR_STATUS_OK 0
/* The plugin understood the request and refused it. */
#define DR_STATUS_ERROR 1
/* The plugin crashed internally (e.g. a caught Rust panic or C++ exception). */
#define DR_STATUS_PANIC 2
/* The method id is not one the plugin implements. */
#define DR_STATUS_UNSUPPORTED 3
/* The input was not valid UTF-8 JSON of the expected shape (or a pointer
 * argument was NULL). */
#define DR_STATUS_BAD_INPUT 4

/* Versioned capability ids (protocol.rs), listed in the descriptor's
 * "capabilities" array. */
#define DR_CAPABILITY_ARCHITECTURE "deepreduce.architecture/1"
#define DR_CAPABILITY_OPTIMIZATION "deepreduce.optimization/1"
#define DR_CAPABILITY_OBJECTIVE "deepreduce.objective/1"
#define DR_CAPABILITY_LATENCY "deepreduce.latency/1"
/* ABI minor 1: a whole ReLU-reduction method (plugin-api/src/reduction.rs). A
 * method keeps no state: each step gets the whole history and answers the
 * next trainings, or its final candidates; the same history must give the
 * same answer (resume is a replay). */
#define DR_CAPABILITY_METHOD "deepreduce.method/1"

/* Method ids (protocol.rs: method), "<capability>:<verb>", with their
 * input -> output payloads. */
/* (input ignored) -> ArchitectureInfo {"variants": [...]} */
#define DR_METHOD_ARCHITECTURE_DESCRIBE "deepreduce.architecture/1:describe"
/* ArchParams -> Network */
#define DR_METHOD_ARCHITECTURE_BUILD "deepreduce.architecture/1:build"
/* OptimizationRequest {"network", "params", "context"}
 * -> Candidates {"candidates": [{"description", "network"}, ...]} */
#define DR_METHOD_OPTIMIZATION_APPLY "deepreduce.optimization/1:apply"
/* parameters (a JSON object) -> TrainingObjective */
#define DR_METHOD_OBJECTIVE_RECIPE "deepreduce.objective/1:recipe"
/* Network -> LatencyEstimate */
#define DR_METHOD_LATENCY_ESTIMATE "deepreduce.latency/1:estimate"
/* (input ignored) -> MethodInfo {"name", "description", "params": [{"name",
 * "type": "integer" | "integer_list" | "number" | "boolean" | "choice",
 * "min" (integers), "options" (choice), "default", "help"}, ...]} */
#define DR_METHOD_METHOD_DESCRIBE "deepreduce.method/1:describe"
/* StepInput {"params", "baseline": Network, "history": [{"request",
 * "result"}, ...]} -> StepOutput, either {"next": "train", "requests":
 * [{"key", "description", "role": "baseline" | "criticality" | "gates" |
 * "candidate", "network", "recipe": {"epochs": {"count": N} | {"fraction":
 * F}, "objective": {"loss": "cross_entropy"} | {"loss": "distillation",
 * "teacher": KEY}, "init_from": KEY, "gates": {"granularity", "budget",
 * "dropped": "identity" | "poly", "l1_initial", "l1_growth",
 * "threshold"}}}, ...]} or {"next": "done", "candidates": [{"key",
 * "description"}, ...]}. A result is {"key", "status": "completed" |
 * "diverged" | "failed", "epoch_accuracies", "accuracy", "relus", "polys",
 * "network" (as trained: a gated run's learned mask), "error"}. */
#define DR_METHOD_METHOD_STEP "deepreduce.method/1:step"

/*
 * DR_EXPORT marks the entry function as exported from the shared library.
 * Define it yourself before including this header to override it.
 */
#ifndef DR_EXPORT
#if defined(_WIN32) || defined(__CYGWIN__)
#define DR_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define DR_EXPORT __attribute__((visibility("default")))
#else
#define DR_EXPORT
#endif
#endif

/*
 * Returns the plugin's descriptor as UTF-8 JSON (see the top of this file).
 * The string is owned by the plugin and must stay valid, unchanged, for as
 * long as the library is loaded; the host never frees it. May return NULL
 * only on failure, in which case the host refuses the plugin.
 * (abi.rs: DescriptorFn)
 */
typedef const char *(*DrDescriptorFn)(void);

/*
 * Calls `method` (a DR_METHOD_* id, NUL-terminated UTF-8) with `input` (a
 * NUL-terminated UTF-8 JSON text). Both are owned by the host and only valid
 * during the call.
 *
 * `output` points to storage for one pointer. The plugin stores there a
 * NUL-terminated UTF-8 JSON string it allocated, or NULL: the result on
 * DR_STATUS_OK, an {"error": "..."} object otherwise. The host releases a
 * non-NULL *output with this plugin's free_string(), exactly once.
 * If `output` itself is NULL the plugin writes nothing and returns
 * DR_STATUS_BAD_INPUT.
 *
 * Returns one of the DR_STATUS_* codes.
 * (abi.rs: CallFn)
 */
typedef int32_t (*DrCallFn)(const char *method, const char *input, char **output);

/*
 * Releases a string this plugin returned through call(). Must accept NULL.
 * (abi.rs: FreeStringFn)
 */
typedef void (*DrFreeStringFn)(char *s);

/*
 * What the entry symbol returns (abi.rs: PluginEntryV1, #[repr(C)]).
 * Owned by the plugin; valid for as long as the library is loaded.
 *
 * Layout (fixed forever; new fields are only ever appended):
 *   offset 0: uint32_t struct_size
 *   offset 4: uint16_t abi_major
 *   offset 6: uint16_t abi_minor
 *   offset 8: the three function pointers, naturally aligned
 * i.e. 32 bytes on 64-bit targets and 20 bytes on 32-bit ones for ABI 1.0
 * and 1.1.
 */
typedef struct DrPluginEntryV1 {
    /* sizeof(DrPluginEntryV1) as the plugin was compiled: lets a newer host
     * tell which appended fields an older plugin provides. */
    uint32_t struct_size;
    /* DEEPREDUCE_ABI_MAJOR; the host refuses any other major version. */
    uint16_t abi_major;
    /* DEEPREDUCE_ABI_MINOR the plugin was built against. */
    uint16_t abi_minor;
    /* Returns the descriptor JSON; see DrDescriptorFn. NULL: refused. */
    DrDescriptorFn descriptor;
    /* Runs a method; see DrCallFn. NULL: refused. */
    DrCallFn call;
    /* Frees strings returned by call; see DrFreeStringFn. NULL: refused. */
    DrFreeStringFn free_string;
} DrPluginEntryV1;

/* Type of the entry symbol, for hosts that look it up with dlsym() or
 * GetProcAddress() (abi.rs: EntryFn). */
typedef const DrPluginEntryV1 *(*DrEntryFnV1)(void);

/*
 * The entry point every plugin defines and exports, named by
 * DEEPREDUCE_ENTRY_SYMBOL. Returns a pointer to a DrPluginEntryV1 owned by
 * the plugin and valid for as long as the library is loaded (typically the
 * address of a static const), never NULL.
 */
DR_EXPORT const DrPluginEntryV1 *deepreduce_plugin_entry_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* DEEPREDUCE_PLUGIN_H */
