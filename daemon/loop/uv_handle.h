// UvHandle<T>: the one place where libuv handle memory is managed. The handle lives on the heap;
// close() (or the destructor) calls uv_close, and the memory is freed in the close callback, never
// before. handle->data points at whatever the owner sets (usually the owner itself).
#pragma once

#include <uv.h>

#include <utility>

namespace esd {

template <typename T>
class UvHandle {
 public:
  UvHandle() : h_(new T()) { h_->data = nullptr; }
  ~UvHandle() { close(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)), inited_(o.inited_) {}
  // Closes the handle held so far (freed in its close callback), then takes over o's.
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      close();
      h_ = std::exchange(o.h_, nullptr);
      inited_ = std::exchange(o.inited_, false);
    }
    return *this;
  }

  T* get() const noexcept { return h_; }
  uv_handle_t* handle() const noexcept { return reinterpret_cast<uv_handle_t*>(h_); }
  // Call after the uv_*_init succeeded; before that close() just frees the memory.
  void mark_initialized() noexcept { inited_ = true; }

  void close() noexcept {
    if (h_ == nullptr) return;
    if (inited_) {
      if (!uv_is_closing(handle())) {
        uv_close(handle(), &UvHandle::on_closed);
      }
    } else {
      delete h_;
    }
    h_ = nullptr;
  }

 private:
  static void on_closed(uv_handle_t* h) noexcept { delete reinterpret_cast<T*>(h); }
  T* h_;
  bool inited_ = false;
};

}  // namespace esd
