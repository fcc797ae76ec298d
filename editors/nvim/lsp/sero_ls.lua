---@brief
---
--- https://github.com/sero-labs/sero-ls
---
--- The sero-ls hub: per workspace folder, whether Sero runs it in a container or on the host,
--- capability diagnostics on the folder, and the `sero/*` methods used by `require("sero")`
--- (statusline, :SeroStatus, :checkhealth sero).
---
--- ```lua
--- vim.lsp.enable('sero_ls')          -- or require('sero').setup({ settings = { ... } })
--- ```
---
--- Settings (CONTRACT §6, section `sero`) go in `init_options.settings`; `workspace/configuration`
--- requests for section `sero` are answered per folder from `require('sero').setup({ folders = ... })`.

local ROOT_MARKERS = { '.sero', '.git' }

---@type vim.lsp.Config
return {
  cmd = { 'sero-ls' },
  -- No `filetypes`: the hub serves every file of a workspace folder.
  root_dir = function(bufnr, on_dir)
    local name = vim.api.nvim_buf_get_name(bufnr)
    if name == '' or name:match('^%a[%w+.-]*://') then
      return
    end
    local root = vim.fs.root(bufnr, ROOT_MARKERS)
    if not root then
      local cwd = vim.fn.getcwd()
      if require('sero.config').contains(cwd, vim.fs.normalize(vim.fn.fnamemodify(name, ':p'))) then
        root = cwd
      end
    end
    if root then
      on_dir(root)
    end
  end,
  init_options = { settings = {} },
  handlers = {
    ['sero/statusChanged'] = function(...)
      return require('sero.handlers').status_changed(...)
    end,
    ['workspace/configuration'] = function(...)
      return require('sero.handlers').configuration(...)
    end,
  },
}
