-- Go to the definition of `join` in `os.path.join(...)` ($SERO_TEST_LINE/COL, 1-based/0-based)
-- and land in a sero-container:// buffer loaded through the server.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')

H.run(function()
  local client_name = os.getenv('SERO_TEST_CLIENT') or 'sero_ls'
  local buf = H.edit(nil, client_name)
  H.wait(30000, function()
    for _, c in ipairs(vim.lsp.get_clients({ bufnr = buf })) do
      if c:supports_method('textDocument/definition') then
        return true
      end
    end
    return false
  end, 'a client with definitionProvider')
  vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv('SERO_TEST_LINE')), tonumber(os.getenv('SERO_TEST_COL')) })
  vim.lsp.buf.definition()
  H.wait(30000, function()
    return vim.api.nvim_buf_get_name(0):match('^sero%-container://') ~= nil
  end, 'a sero-container:// buffer')
  local cbuf = vim.api.nvim_get_current_buf()
  H.R.name = vim.api.nvim_buf_get_name(cbuf)
  H.R.container_filetype = vim.bo[cbuf].filetype
  H.R.readonly = vim.bo[cbuf].readonly
  H.R.modifiable = vim.bo[cbuf].modifiable
  H.R.cursor = vim.api.nvim_win_get_cursor(0)
  H.R.cursor_line = vim.api.nvim_get_current_line()
  H.R.text = table.concat(vim.api.nvim_buf_get_lines(cbuf, 0, -1, false), '\n')
  H.R.attached = vim.tbl_map(function(c) return c.name end, vim.lsp.get_clients({ bufnr = cbuf }))
  -- Navigation continues inside: hover on the definition's own name, from the container buffer.
  local client = vim.lsp.get_clients({ bufnr = cbuf })[1]
  if client then
    local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
    local resp = client:request_sync('textDocument/hover', params, 15000, cbuf)
    H.R.hover_in_container = resp and resp.result and vim.inspect(resp.result.contents) or vim.inspect(resp)
  end
end)
