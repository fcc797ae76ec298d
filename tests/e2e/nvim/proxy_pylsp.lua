-- A plain nvim-lspconfig-style pylsp config whose one changed line is
-- cmd = { 'sero-ls', 'proxy', '--', 'pylsp' }: hover and diagnostics.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')

vim.lsp.config('pylsp', {
  cmd = { 'sero-ls', 'proxy', '--', 'pylsp' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', 'requirements.txt', 'Pipfile', '.git' },
})
vim.lsp.enable('pylsp')

H.run(function()
  local buf = H.edit(nil, 'pylsp')
  H.wait(30000, function()
    return #vim.diagnostic.get(buf) > 0
  end, 'diagnostics')
  H.R.diagnostics = vim.tbl_map(function(d)
    return { message = d.message, source = d.source, lnum = d.lnum }
  end, vim.diagnostic.get(buf))
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'pylsp' })[1]
  vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv('SERO_TEST_LINE')), tonumber(os.getenv('SERO_TEST_COL')) })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local resp = client:request_sync('textDocument/hover', params, 20000, buf)
  assert(resp and not resp.err and resp.result, 'hover failed: ' .. vim.inspect(resp))
  local contents = resp.result.contents
  H.R.hover = type(contents) == 'table' and (contents.value or vim.inspect(contents)) or tostring(contents)
  -- The wrapped server's status arrives by a sero/workspaceStatus request made on attach:
  -- wait for it (not there yet on a busy machine when the hover is answered).
  H.wait_statusline(30000, 'container')
  H.R.statusline = require('sero').statusline()

  -- Then the hub too, for the same folder; when it stops, the wrapped server's status remains.
  vim.lsp.enable('sero_ls')
  vim.cmd.edit() -- FileType again: the hub attaches
  H.wait(20000, function()
    local e = require('sero.status').entry_for(buf)
    local owner = e and vim.lsp.get_client_by_id(e.client_id)
    return owner ~= nil and owner.name == 'sero_ls'
  end, 'the hub to report the folder')
  vim.lsp.get_clients({ name = 'sero_ls' })[1]:stop()
  H.wait(20000, function()
    local e = require('sero.status').entry_for(buf)
    local owner = e and vim.lsp.get_client_by_id(e.client_id)
    return owner ~= nil and owner.name == 'pylsp'
  end, 'the proxy to report the folder again')
  H.R.statusline_after_hub_stop = require('sero').statusline()
end)
