using Eurus.Cli;

return await CliApp.RunAsync(args);
