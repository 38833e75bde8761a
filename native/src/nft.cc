#include <nftables/libnftables.h>

#include <stdexcept>
#include <string>

#include "ops.h"

namespace pcocc {

// One libnftables run = one netlink batch: the whole JSON document is applied atomically or not at all.
std::string runNft(const std::string& json) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) throw std::runtime_error("nftables: cannot create context");
  nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, json.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx);
  std::string err = nft_ctx_get_error_buffer(ctx);
  nft_ctx_free(ctx);
  if (rc != 0) throw std::runtime_error("nftables: " + (err.empty() ? std::string("command failed") : err));
  return out;
}

}  // namespace pcocc
