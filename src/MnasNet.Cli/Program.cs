using MnasNet.Cli;

return await MnasNetCli.RunAsync(args);
