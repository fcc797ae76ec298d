-- sero.nvim: commands, sero-container:// buffers and the handlers every sero client needs
-- (the hub from lsp/sero_ls.lua and servers wrapped with `sero-ls proxy`).
if vim.g.loaded_sero then
  return
end
vim.g.loaded_sero = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify('sero.nvim needs Neovim 0.11 or newer', vim.log.levels.WARN)
  return
end

local handlers = require('sero.handlers')
vim.lsp.handlers['sero/statusChanged'] = handlers.status_changed
vim.lsp.handlers['workspace/configuration'] = handlers.configuration

require('sero.commands').define()

local group = vim.api.nvim_create_augroup('sero', { clear = true })

vim.api.nvim_create_autocmd('BufReadCmd', {
  group = group,
  pattern = 'sero-container://*',
  desc = 'sero: load a container-only file through sero-ls',
  callback = function(ev)
    require('sero.container').read(ev)
  end,
})

vim.api.nvim_create_autocmd('LspAttach', {
  group = group,
  desc = 'sero: fetch the folder status from wrapped servers (the hub pushes it after initialized)',
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    local status = require('sero.status')
    if client and client.name ~= 'sero_ls' and require('sero.client').is_sero(client)
      and not status.entry_for(ev.buf) then
      status.fetch(client, ev.buf)
    end
  end,
})

vim.api.nvim_create_autocmd('LspDetach', {
  group = group,
  desc = 'sero: forget the status a stopped client reported',
  callback = function(ev)
    local id = ev.data.client_id
    vim.schedule(function()
      local client = vim.lsp.get_client_by_id(id)
      if not client or client:is_stopped() then
        require('sero.status').forget(id)
      end
    end)
  end,
})

vim.api.nvim_create_autocmd({ 'BufWipeout', 'BufFilePost' }, {
  group = group,
  desc = 'sero: drop the statusline cache of a renamed or wiped buffer',
  callback = function(ev)
    require('sero.status').drop_buffer(ev.buf)
  end,
})

vim.api.nvim_create_autocmd('DirChanged', {
  group = group,
  desc = 'sero: unnamed buffers belong to the folder of the working directory',
  callback = function()
    require('sero.status').invalidate()
  end,
})
