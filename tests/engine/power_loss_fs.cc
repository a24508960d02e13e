#include "tests/engine/power_loss_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace shortbus::engine::testing {
namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kSector = 512;
}  // namespace

PowerLossFileSystem::~PowerLossFileSystem() {
  std::set<int> fds;
  for (const auto& [p, i] : names_) fds.insert(i->keep_fd);
  for (const auto& [p, i] : initial_) fds.insert(i->keep_fd);
  for (const Op& op : ops_) fds.insert(op.inode->keep_fd);
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

absl::Status PowerLossFileSystem::Dead(const char* what, const std::string& path) const {
  return ErrnoStatus(EIO, what, path + " (power cut)");
}

std::string PowerLossFileSystem::ReadAll(int fd) {
  std::string out;
  char buf[1 << 16];
  for (off_t off = 0;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

std::shared_ptr<PowerLossFileSystem::Inode> PowerLossFileSystem::InodeOf(int fd) {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : it->second;
}

absl::StatusOr<int> PowerLossFileSystem::Open(const std::string& path, int flags, mode_t mode) {
  if ((flags & O_CREAT) != 0) {
    std::lock_guard<std::mutex> l(mu_);
    if (power_off_) return Dead("open", path);
  }
  // O_EXCL says it: a new file. (Asking the file system first would race
  // with a rename of the same name on another thread.)
  const bool existed = (flags & O_CREAT) == 0 || ((flags & O_EXCL) == 0 && ::access(path.c_str(), F_OK) == 0);
  absl::StatusOr<int> fd = FileSystem::Open(path, flags, mode);
  if (!fd.ok()) return fd;
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<Inode> inode;
  if (auto it = names_.find(path); it != names_.end()) {
    inode = it->second;
  } else {
    inode = std::make_shared<Inode>();
    names_[path] = inode;
    if (existed) {
      inode->durable = ReadAll(*fd);  // there before we looked: durable
      initial_[path] = inode;
    } else {
      ops_.push_back({OpKind::kCreate, path, "", inode, 0});
    }
  }
  if (inode->keep_fd < 0) inode->keep_fd = ::fcntl(*fd, F_DUPFD_CLOEXEC, 0);
  fds_[*fd] = inode;
  return fd;
}

void PowerLossFileSystem::Close(int fd) {
  {
    std::lock_guard<std::mutex> l(mu_);
    fds_.erase(fd);
  }
  FileSystem::Close(fd);
}

absl::Status PowerLossFileSystem::Allocate(int fd, uint64_t size, const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (power_off_) return Dead("preallocate", path);
  if (absl::Status s = FileSystem::Allocate(fd, size, path); !s.ok()) return s;
  if (std::shared_ptr<Inode> inode = InodeOf(fd)) ops_.push_back({OpKind::kResize, path, "", inode, size});
  return absl::OkStatus();
}

absl::Status PowerLossFileSystem::SyncData(int fd, const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (power_off_) return Dead("fdatasync", path);
  std::shared_ptr<Inode> inode = InodeOf(fd);
  if (inode == nullptr) return FileSystem::SyncData(fd, path);  // not ours: really sync
  inode->durable = ReadAll(fd);
  ++syncs_;
  return absl::OkStatus();
}

absl::Status PowerLossFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  if (power_off_) return Dead("fsync directory", dir);
  committed_ = ops_.size();
  return absl::OkStatus();
}

absl::Status PowerLossFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  if (power_off_) return Dead("rename", from);
  if (absl::Status s = FileSystem::Rename(from, to); !s.ok()) return s;
  auto it = names_.find(from);
  if (it == names_.end()) return absl::OkStatus();  // not a file we track
  std::shared_ptr<Inode> inode = it->second;
  names_.erase(it);
  names_[to] = inode;
  ops_.push_back({OpKind::kRename, from, to, inode, 0});
  return absl::OkStatus();
}

absl::Status PowerLossFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (power_off_) return Dead("remove", path);
  if (absl::Status s = FileSystem::Remove(path); !s.ok()) return s;
  auto it = names_.find(path);
  if (it == names_.end()) return absl::OkStatus();
  // Its last contents (read through our own descriptor), for a cut that
  // loses the removal.
  it->second->at_cut = ReadAll(it->second->keep_fd);
  it->second->removed = true;
  ops_.push_back({OpKind::kRemove, path, "", it->second, 0});
  names_.erase(it);
  return absl::OkStatus();
}

absl::Status PowerLossFileSystem::Zero(int fd, uint64_t offset, uint64_t len, const std::string& path) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (power_off_) return Dead("zero", path);
  }
  return FileSystem::Zero(fd, offset, len, path);
}

absl::Status PowerLossFileSystem::WriteAt(int fd, uint64_t offset, const char* src, size_t len,
                                          const std::string& path) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (power_off_) return Dead("write", path);
  }
  return FileSystem::WriteAt(fd, offset, src, len, path);
}

void PowerLossFileSystem::CutPower() {
  std::lock_guard<std::mutex> l(mu_);
  power_off_ = true;
  std::set<Inode*> seen;
  auto capture = [&](const std::shared_ptr<Inode>& i) {
    if (i->removed || !seen.insert(i.get()).second) return;
    i->at_cut = ReadAll(i->keep_fd);
  };
  for (const auto& [p, i] : names_) capture(i);
  for (const auto& [p, i] : initial_) capture(i);
  for (const Op& op : ops_) capture(op.inode);
}

PowerLossStats PowerLossFileSystem::LoseUnsynced(std::mt19937_64& rng) {
  std::lock_guard<std::mutex> l(mu_);
  PowerLossStats st;
  st.metadata_ops = ops_.size() - committed_;
  const size_t keep = committed_ + rng() % (ops_.size() - committed_ + 1);
  st.metadata_kept = keep - committed_;

  if (std::getenv("SHORTBUS_POWER_TRACE") != nullptr) {
    for (size_t k = 0; k < ops_.size(); ++k) {
      const char* kinds[] = {"create", "rename", "remove", "resize"};
      std::fprintf(stderr, "op %zu %s %s %s %llu%s%s\n", k, kinds[static_cast<int>(ops_[k].kind)], ops_[k].path.c_str(),
                   ops_[k].to.c_str(), static_cast<unsigned long long>(ops_[k].size), k < committed_ ? " committed" : "",
                   k < keep ? " kept" : "");
    }
  }
  std::map<std::string, std::shared_ptr<Inode>> ns = initial_;
  std::map<Inode*, uint64_t> allocated;
  for (size_t k = 0; k < keep; ++k) {
    const Op& op = ops_[k];
    switch (op.kind) {
      case OpKind::kCreate:
        ns[op.path] = op.inode;
        break;
      case OpKind::kRename:
        if (auto it = ns.find(op.path); it != ns.end()) {
          std::shared_ptr<Inode> inode = it->second;
          ns.erase(it);
          ns[op.to] = inode;
        }
        break;
      case OpKind::kRemove:
        ns.erase(op.path);
        break;
      case OpKind::kResize:
        allocated[op.inode.get()] = std::max(allocated[op.inode.get()], op.size);
        break;
    }
  }
  for (const auto& [path, inode] : names_) {
    if (ns.count(path) == 0) ::unlink(path.c_str());
  }
  for (const auto& [path, inode] : ns) {
    const std::string& now = inode->at_cut;
    std::string img = inode->durable;
    img.resize(std::max<uint64_t>(img.size(), allocated[inode.get()]), '\0');
    for (uint64_t p = 0; p < img.size() && p < now.size(); p += kPage) {
      const uint64_t n = std::min<uint64_t>({kPage, img.size() - p, now.size() - p});
      if (img.compare(p, n, now, p, n) == 0) continue;
      ++st.dirty_pages;
      switch (rng() % 3) {
        case 0:
          ++st.pages_lost;
          break;
        case 1:
          ++st.pages_written;
          img.replace(p, n, now, p, n);
          break;
        default: {
          ++st.pages_torn;
          const uint64_t sectors = 1 + rng() % (kPage / kSector - 1);
          const uint64_t m = std::min(n, sectors * kSector);
          img.replace(p, m, now, p, m);
        }
      }
    }
    if (names_.count(path) != 0 && names_.at(path) == inode && !inode->removed && inode->keep_fd >= 0 &&
        ReadAll(inode->keep_fd) == img) {
      continue;  // already so on disk (a sealed segment, say)
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    for (size_t done = 0; done < img.size();) {
      const ssize_t w = ::pwrite(fd, img.data() + done, img.size() - done, static_cast<off_t>(done));
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::close(fd);
  }
  return st;
}

uint64_t PowerLossFileSystem::syncs() const {
  std::lock_guard<std::mutex> l(mu_);
  return syncs_;
}

}  // namespace shortbus::engine::testing
