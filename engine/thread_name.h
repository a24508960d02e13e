#ifndef SHORTBUS_ENGINE_THREAD_NAME_H_
#define SHORTBUS_ENGINE_THREAD_NAME_H_

namespace shortbus::engine {

// Names the calling thread, as `top -H`, `ps -L`, perf and
// /proc/<pid>/task/<tid>/comm show it. Linux keeps at most 15 bytes; a
// longer name is cut. The daemon's threads: "sb-log" (a stream's log
// background thread: syncs, pre-faulting, segment preparation), "sb-index"
// (a stream's indexer), "sb-signals".
void NameThisThread(const char* name);

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_THREAD_NAME_H_
