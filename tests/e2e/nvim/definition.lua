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
  -- What the server answers (kept in the result for the report), then the user's action.
  local answers = vim.lsp.buf_request_sync(buf, 'textDocument/definition', function(client)
    return vim.lsp.util.make_position_params(0, client.offset_encoding)
  end, 30000)
  H.R.definition_answers = answers
  local function in_container()
    return vim.api.nvim_buf_get_name(0):match('^sero%-container://') ~= nil
  end
  vim.lsp.buf.definition()
  H.wait(30000, function()
    return in_container() or #vim.fn.getqflist() > 0
  end, 'a jump or a quickfix list, answers: ' .. vim.inspect(answers))
  if not in_container() then
    -- Several places (os.path is posixpath or ntpath): the quickfix list, whose preview text was
    -- read through the same BufReadCmd; pick posixpath as a user would, with :cc.
    local qf = vim.fn.getqflist()
    H.R.quickfix = vim.tbl_map(function(item)
      return { name = vim.api.nvim_buf_get_name(item.bufnr), text = item.text }
    end, qf)
    for i, item in ipairs(qf) do
      if vim.api.nvim_buf_get_name(item.bufnr):match('posixpath%.py$') then
        vim.cmd('cc ' .. i)
      end
    end
  end
  H.wait(30000, in_container, 'a sero-container:// buffer, answers: ' .. vim.inspect(answers))
  local cbuf = vim.api.nvim_get_current_buf()
  H.R.name = vim.api.nvim_buf_get_name(cbuf)
  H.R.container_filetype = vim.bo[cbuf].filetype
  H.R.readonly = vim.bo[cbuf].readonly
  H.R.modifiable = vim.bo[cbuf].modifiable
  H.R.cursor = vim.api.nvim_win_get_cursor(0)
  H.R.cursor_line = vim.api.nvim_get_current_line()
  H.R.text = table.concat(vim.api.nvim_buf_get_lines(cbuf, 0, -1, false), '\n')
  H.R.attached = vim.tbl_map(function(c) return c.name end, vim.lsp.get_clients({ bufnr = cbuf }))
  -- Navigation continues inside: hover on `os` of its `import os` line, from the container buffer.
  local client = vim.lsp.get_clients({ bufnr = cbuf })[1]
  local lines = vim.api.nvim_buf_get_lines(cbuf, 0, -1, false)
  for i, line in ipairs(lines) do
    if line == 'import os' and client then
      vim.api.nvim_win_set_cursor(0, { i, 7 })
      local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
      local resp = client:request_sync('textDocument/hover', params, 15000, cbuf)
      H.R.hover_in_container = vim.inspect(resp and (resp.err or resp.result))
      break
    end
  end
end)
