// bias_act binding: argument checks, the [outer, C, inner] view, dispatch by device.
#include "bias_act.h"

namespace ganbench {
namespace {

// A tensor in the memory layout of `ref`: `ref` itself is either NCHW-contiguous or
// channels-last, and the others are brought to the same layout.
at::Tensor like(const at::Tensor& t, bool channels_last) {
  if (!t.defined() || t.numel() == 0) return at::Tensor();
  return channels_last ? t.contiguous(at::MemoryFormat::ChannelsLast) : t.contiguous();
}

}  // namespace

std::vector<at::Tensor> bias_act(const at::Tensor& x_in, const at::Tensor& b_in,
                                 const at::Tensor& dy_in, const at::Tensor& g_in, int64_t mode,
                                 int64_t act, double alpha, double gain, double clamp, int64_t dim,
                                 bool want_db) {
  TORCH_CHECK(act >= kLinear && act <= kSwish, "bias_act: unknown activation index ", act);
  TORCH_CHECK(mode >= kForward && mode <= kGrad2, "bias_act: unknown mode ", mode);
  TORCH_CHECK(x_in.dim() >= 1 || b_in.numel() == 0, "bias_act: a bias needs x with dim >= 1");
  if (x_in.dim() > 0) {
    TORCH_CHECK(dim >= 0 && dim < x_in.dim(), "bias_act: dim ", dim, " out of range");
  }
  const bool has_b = b_in.defined() && b_in.numel() > 0;
  if (has_b) {
    TORCH_CHECK(b_in.dim() == 1 && b_in.size(0) == x_in.size(dim),
                "bias_act: b must be [x.shape[dim]]");
    TORCH_CHECK(b_in.scalar_type() == x_in.scalar_type() && b_in.device() == x_in.device(),
                "bias_act: b must match x in dtype and device");
  }
  for (const at::Tensor* t : {&dy_in, &g_in}) {
    if (t->defined() && t->numel() > 0) {
      TORCH_CHECK(t->sizes() == x_in.sizes(), "bias_act: dy and g must have x's shape");
      TORCH_CHECK(t->scalar_type() == x_in.scalar_type() && t->device() == x_in.device(),
                  "bias_act: dy and g must match x in dtype and device");
    }
  }
  TORCH_CHECK(mode == kForward || (dy_in.defined() && dy_in.numel() == x_in.numel()),
              "bias_act: modes 1 and 2 need dy");
  TORCH_CHECK(mode != kGrad2 || (g_in.defined() && g_in.numel() == x_in.numel()),
              "bias_act: mode 2 needs g");

  // Channels-last 4D tensors with the bias on the channel axis keep their layout: in
  // memory they are [N*H*W, C, 1]. Everything else is made contiguous.
  const bool channels_last = x_in.dim() == 4 && dim == 1 && !x_in.is_contiguous() &&
                             x_in.is_contiguous(at::MemoryFormat::ChannelsLast);
  BiasActTensors t;
  t.x = channels_last ? x_in : x_in.contiguous();
  t.b = has_b ? b_in.contiguous() : at::Tensor();
  t.dy = mode == kForward ? at::Tensor() : like(dy_in, channels_last);
  t.g = mode == kGrad2 ? like(g_in, channels_last) : at::Tensor();
  t.out = at::empty_like(t.x);
  if (x_in.dim() == 0) {
    t.outer = 1;
    t.C = 1;
    t.inner = 1;
  } else if (channels_last) {
    t.C = x_in.size(1);
    t.outer = x_in.size(0) * x_in.size(2) * x_in.size(3);
    t.inner = 1;
  } else {
    t.C = x_in.size(dim);
    t.outer = 1;
    for (int64_t i = 0; i < dim; ++i) t.outer *= x_in.size(i);
    t.inner = 1;
    for (int64_t i = dim + 1; i < x_in.dim(); ++i) t.inner *= x_in.size(i);
  }
  const BiasActScalars s{alpha, gain, clamp};
  const bool db = want_db && mode != kForward;
  at::Tensor db_out;
  if (t.x.is_cuda()) {
#ifdef GANBENCH_WITH_CUDA
    bias_act_cuda(t, mode, act, s);
    if (db) {
      db_out = channels_last ? t.out.sum({0, 2, 3})
                             : t.out.reshape({t.outer, t.C, t.inner}).sum({0, 2});
    }
#else
    TORCH_CHECK(false, "bias_act: this build of the ops has no CUDA support");
#endif
  } else {
    TORCH_CHECK(t.x.device().is_cpu(), "bias_act: unsupported device ", t.x.device());
    db_out = bias_act_cpu(t, mode, act, s, db);
  }
  if (!db_out.defined()) db_out = at::empty({0}, x_in.options());
  return {t.out, db_out};
}

}  // namespace ganbench
