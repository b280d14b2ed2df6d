#pragma once
/// Locks the compiler checks. `Mutex`, `SharedMutex` and their RAII holders carry clang's
/// thread-safety attributes, so shared state declared `GUARDED_BY(mutex_)` and functions
/// declared `REQUIRES(mutex_)` are checked by every clang build (-Wthread-safety, run by
/// scripts/test.sh through `scripts/build.sh clang`). Under GCC the attributes vanish and
/// the types are plain std::mutex wrappers at no cost.
///
/// A condition variable waits on a `Mutex` the caller holds (`CondVar::Wait`), as in
/// leveldb's port::CondVar: write the wait as a loop over the guarded condition, which the
/// analysis can check, rather than as a predicate lambda, which it cannot.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define FOPS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FOPS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) FOPS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY FOPS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) FOPS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) FOPS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) FOPS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) FOPS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) FOPS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) FOPS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) FOPS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) FOPS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) FOPS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) FOPS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) FOPS_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define EXCLUDES(...) FOPS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) FOPS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) FOPS_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS FOPS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace fraudops {

class CondVar;

/// An exclusive lock.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mutex_.lock(); }
  void Unlock() RELEASE() { mutex_.unlock(); }
  /// Tells the analysis the caller holds the lock (checked nowhere else).
  void AssertHeld() ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mutex_;
};

/// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_->Lock(); }
  ~MutexLock() RELEASE() { mutex_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mutex_;
};

/// Holds a Mutex for its scope, with a window in the middle where it is let go (a round
/// trip that must not hold the lock).
class SCOPED_CAPABILITY RelockableMutexLock {
 public:
  explicit RelockableMutexLock(Mutex* mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_->Lock(); }
  ~RelockableMutexLock() RELEASE() {
    if (held_) mutex_->Unlock();
  }
  RelockableMutexLock(const RelockableMutexLock&) = delete;
  RelockableMutexLock& operator=(const RelockableMutexLock&) = delete;

  void Unlock() RELEASE() {
    mutex_->Unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mutex_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mutex_;
  bool held_ = true;
};

/// Many readers or one writer.
class CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ACQUIRE() { mutex_.lock(); }
  void Unlock() RELEASE() { mutex_.unlock(); }
  void LockShared() ACQUIRE_SHARED() { mutex_.lock_shared(); }
  void UnlockShared() RELEASE_SHARED() { mutex_.unlock_shared(); }

 private:
  std::shared_mutex mutex_;
};

/// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_->Lock(); }
  ~WriterLock() RELEASE() { mutex_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mutex_;
};

/// Holds a SharedMutex shared for its scope.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mutex) ACQUIRE_SHARED(mutex) : mutex_(mutex) {
    mutex_->LockShared();
  }
  ~ReaderLock() RELEASE() { mutex_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mutex_;
};

/// A condition variable bound to one Mutex, which every call requires held.
class CondVar {
 public:
  explicit CondVar(Mutex* mutex) : mutex_(mutex) {}
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  /// Releases the mutex (which the caller holds), waits for a signal or a spurious
  /// wake-up, takes it again. Not annotated: the analysis cannot tell that the caller's
  /// mutex is this one's (leveldb's port::CondVar has the same gap).
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_->mutex_, std::adopt_lock);
    condition_.wait(lock);
    lock.release();
  }
  /// As Wait, until `deadline` at the latest; false when the deadline passed.
  template <class Clock, class Duration>
  bool WaitUntil(const std::chrono::time_point<Clock, Duration>& deadline) {
    std::unique_lock<std::mutex> lock(mutex_->mutex_, std::adopt_lock);
    const bool signalled = condition_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return signalled;
  }
  void Signal() { condition_.notify_one(); }
  void SignalAll() { condition_.notify_all(); }

 private:
  Mutex* const mutex_;
  std::condition_variable condition_;
};

}  // namespace fraudops
